import Synchronization
public import WireFormat

/// Turns decoded packets into per-source state, declares scanners, and closes episodes.
///
/// `process` is called by every capture thread concurrently and takes no lock (see
/// `SourceTable`). `sweep` and `closeAll` are called by one thread at a time: the reader thread
/// itself for savefiles, the sweeper thread for live capture.
public final class ScanDetector: @unchecked Sendable {
    // @unchecked: the only mutable state outside the table is the declared filter, atomic words.
    public let configuration: DetectorConfiguration
    public let table: SourceTable
    private let ipv6GroupLength: Int
    private let groupsIPv6: Bool
    // Copied out of the configuration so the per-packet test is a Bool, not an array access.
    private let ignoredSources: [IPPrefix]
    private let hasIgnoredSources: Bool
    private let homeNetwork: [IPPrefix]
    private let hasHomeNetwork: Bool

    /// - Parameter exclusive: true when one thread alone will call `process`, `sweep` and
    ///   `closeAll` (see `SourceTable`).
    public convenience init(configuration: DetectorConfiguration, exclusive: Bool = false) {
        self.init(configuration: configuration, exclusive: exclusive, keys: .random())
    }

    init(configuration: DetectorConfiguration, exclusive: Bool = false, keys: SourceTable.Keys) {
        self.configuration = configuration
        self.table = SourceTable(maxSources: configuration.maxSources, exclusive: exclusive, keys: keys)
        self.ipv6GroupLength = configuration.ipv6GroupPrefixLength
        self.groupsIPv6 = configuration.ipv6GroupPrefixLength < 128
        self.ignoredSources = configuration.ignoredSources
        self.hasIgnoredSources = !configuration.ignoredSources.isEmpty
        self.homeNetwork = configuration.homeNetwork
        self.hasHomeNetwork = !configuration.homeNetwork.isEmpty
        declaredFilter = .allocate(capacity: Self.declaredFilterWords)
        for i in 0..<Self.declaredFilterWords { (declaredFilter + i).initialize(to: Atomic(0)) }
    }

    deinit {
        declaredFilter.deinitialize(count: Self.declaredFilterWords)
        declaredFilter.deallocate()
    }

    private func isHome(_ address: IPAddress) -> Bool { homeNetwork.contains { $0.contains(address) } }

    /// Sources in a declared episode, as bits of a small filter (64 Kibit, 8 KiB: it stays in
    /// cache) under a keyed 16-bit index. A set bit may be another source's (the data packet
    /// then costs one lookup); a clear bit proves the source is not declared. Each sweep rebuilds
    /// it from the table, so sources whose episodes closed leave it and it never fills up; a
    /// source declared by another thread while a live sweep runs is back in it a sweep later.
    private let declaredFilter: UnsafeMutablePointer<Atomic<UInt64>>
    private static let declaredFilterWords = 1024
    private let declaredFilterKey = UInt64.random(in: .min ... .max)

    @inline(__always)
    private func declaredFilterBit(_ key: IPAddress) -> Int {
        Int(truncatingIfNeeded: SourceTable.mix(SourceTable.fold(key) ^ declaredFilterKey) >> 48)
    }

    @inline(__always)
    private func mayBeDeclared(_ key: IPAddress) -> Bool {
        let bit = declaredFilterBit(key)
        return (declaredFilter + (bit >> 6)).pointee.load(ordering: .relaxed) & (1 << UInt64(bit & 63)) != 0
    }

    private func noteDeclared(_ key: IPAddress) {
        let bit = declaredFilterBit(key)
        (declaredFilter + (bit >> 6)).pointee.bitwiseOr(1 << UInt64(bit & 63), ordering: .relaxed)
    }

    @inline(__always)
    private func key(_ address: IPAddress) -> IPAddress {
        groupsIPv6 && !address.isIPv4 ? address.masked(toPrefixLength: ipv6GroupLength) : address
    }

    /// Accounts one packet. Returns an alert when this packet made its source a scanner.
    public func process(_ packet: DecodedPacket) -> Alert? {
        process(packet, tag: subject(of: packet).map { table.tag(of: key($0)) } ?? 0)
    }

    /// How many packets ahead of its update a packet's bucket is fetched, and then its slot's
    /// lines. A miss here costs a few hundred nanoseconds and an update about a hundred, so
    /// fetches issued 8 updates ahead have arrived when they are needed.
    static let prefetchDistance = 8

    /// Accounts a run of packets, in order, overlapping their memory accesses.
    ///
    /// Per packet the table costs a few cache misses (its bucket, then its slot and bitmap
    /// words), each one dependent on the last; taken one packet at a time they add up to
    /// hundreds of nanoseconds. Here the work is software-pipelined: while packet `i` is
    /// applied, packet `i + d` has its slot's lines fetched and packet `i + 2d` its bucket, so
    /// the misses of many packets are in flight together. The result is the same as calling
    /// `process` on each packet in turn: the early steps only fetch, and the update re-finds
    /// its slot.
    ///
    /// - Parameter onAlert: called for each alert, in packet order.
    public func process(_ packets: UnsafeBufferPointer<DecodedPacket>, onAlert: (Alert) -> Void) {
        let count = packets.count
        let d = Self.prefetchDistance
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: count) { tags in
            for step in 0..<(count + 2 * d) {
                // Hash a packet's subject and start fetching its bucket.
                if step < count {
                    let tag = subject(of: packets[step]).map { table.tag(of: key($0)) } ?? 0
                    tags[step] = tag
                    if tag != 0 { table.prefetchBucket(of: tag) }
                }
                // Its bucket has arrived: start fetching the lines its update will use.
                let fetch = step - d
                if fetch >= 0 && fetch < count && tags[fetch] != 0 { prefetchLines(packets[fetch], tag: tags[fetch]) }
                // Its lines have arrived: apply it.
                let apply = step - 2 * d
                if apply >= 0, let alert = process(packets[apply], tag: tags[apply]) { onAlert(alert) }
            }
        }
    }

    /// Starts fetching the slot lines that `packet`'s update will touch: the counters, both
    /// bitmap lines (pair and port maps share line 1, host and answered maps line 2, so no bit
    /// index needs hashing here), and for a probe the fingerprint line. Each prefetch costs a few
    /// nanoseconds even when the line is cached, so lines an update never touches are not asked for.
    @inline(__always)
    private func prefetchLines(_ p: DecodedPacket, tag: UInt64) {
        guard let slot = table.find(tag: tag) else { return }
        table.prefetch(slot, Field.state)
        table.prefetch(slot, Field.pairBitmap)
        table.prefetch(slot, Field.hostBitmap)
        // The fingerprint votes and the port sample are written by a source's first probes.
        if !p.tcpFlags.contains(.ack) && !p.tcpFlags.contains(.rst) { table.prefetch(slot, Field.toolVotes) }
    }

    /// Whether `address` is currently in a declared scan episode.
    public func isDeclared(_ address: IPAddress) -> Bool {
        guard let slot = table.find(key(address)) else { return false }
        return table.load(slot, Field.state) & SourceTable.State.declared != 0
    }

    /// The address whose table entry a packet updates: the prober for a probe (a SYN, a stealth
    /// segment, a UDP datagram) or a bare ACK, the probed source for an answer (a SYN/ACK, a
    /// RST, an ICMP error quoting the probe). Nil for packets the detector does not use.
    @inline(__always)
    private func subject(of packet: DecodedPacket) -> IPAddress? {
        switch packet.transport {
        case .tcp:
            let flags = packet.tcpFlags
            if flags.contains(.syn) { return flags.contains(.ack) ? packet.destination : packet.source }
            if flags.contains(.rst) { return packet.destination }
            if !flags.contains(.ack) { return packet.source }  // FIN, NULL, Xmas: stealth probes
            // A bare ACK: a handshake's last packet, or an ACK probe. A bare FIN+ACK: a Maimon
            // probe, or a connection's close.
            if (flags == .ack || flags == [.fin, .ack]) && packet.payloadLength == 0 { return packet.source }
            // Payload after a handshake matters only from declared scanners; everyone else's data
            // (the bulk of any capture) stops at this filter without being hashed.
            if packet.payloadLength > 0 { return mayBeDeclared(key(packet.source)) ? packet.source : nil }
            return nil
        case .udp:
            // Multicast and broadcast datagrams (mDNS, SSDP, DHCP) are announcements, not probes.
            return Self.isGroupAddress(packet.destination) ? nil : packet.source
        case .icmp, .icmpv6:
            if Self.isEchoRequest(packet) { return Self.isGroupAddress(packet.destination) ? nil : packet.source }
            if Self.isEchoReply(packet) { return packet.destination }
            return Self.isUnreachable(packet) ? packet.quoted?.source : nil
        case .fragment, .other:
            return nil
        }
    }

    /// Destination unreachable (ICMP type 3, ICMPv6 type 1) quoting a TCP, UDP or ICMP packet:
    /// the target refusing a probe, or a router saying it cannot be reached. Not IPv4's
    /// "fragmentation needed" (code 4): that is path-MTU discovery answering a client's
    /// oversized segment, no refusal (ICMPv6 gives it a type of its own, 2).
    @inline(__always)
    static func isUnreachable(_ p: DecodedPacket) -> Bool {
        guard let quoted = p.quoted else { return false }
        switch quoted.ipProtocol {
        case 6, 17, 1, 58: break
        default: return false
        }
        return p.transport == .icmp ? p.icmpType == 3 && p.icmpCode != 4 : p.icmpType == 1
    }

    /// Echo request (ICMP 8, ICMPv6 128): a ping, one host at a time.
    @inline(__always)
    static func isEchoRequest(_ p: DecodedPacket) -> Bool {
        p.transport == .icmp ? p.icmpType == 8 : p.icmpType == 128
    }

    /// Echo reply (ICMP 0, ICMPv6 129).
    @inline(__always)
    static func isEchoReply(_ p: DecodedPacket) -> Bool {
        p.transport == .icmp ? p.icmpType == 0 : p.icmpType == 129
    }

    /// IPv4 multicast (224/4) or broadcast, IPv6 multicast (ff00::/8).
    static func isGroupAddress(_ a: IPAddress) -> Bool {
        if a.isIPv4 { return a.ipv4Value >> 28 == 0xE || a.ipv4Value == 0xFFFF_FFFF }
        return a.high >> 56 == 0xFF
    }

    /// `process` with the subject's tag already computed (0 when there is no subject).
    private func process(_ packet: DecodedPacket, tag: UInt64) -> Alert? {
        guard tag != 0 else { return nil }
        switch packet.transport {
        case .udp:
            // A datagram that answers a probe of the receiver's is a success for it; any other is
            // a probe of the sender's.
            let reply = answer(
                to: table.tag(of: key(packet.destination)), from: packet.source,
                port: packet.sourcePort, at: packet.timestamp, success: true)
            return reply.matched ? nil : probe(packet, tag: tag)
        case .icmp, .icmpv6:
            // Pings are first contacts with a host, on no port: (host, 0).
            if Self.isEchoRequest(packet) { return probe(packet, tag: tag) }
            if Self.isEchoReply(packet) {
                return answer(to: tag, from: packet.source, port: 0, at: packet.timestamp, success: true).alert
            }
            guard let quoted = packet.quoted else { return nil }
            let port = quoted.ipProtocol == 6 || quoted.ipProtocol == 17 ? quoted.destinationPort : 0
            let outcome = answer(to: tag, from: quoted.destination, port: port, at: packet.timestamp, success: false)
            guard !outcome.matched, quoted.destination != packet.source else { return outcome.alert }
            // Anonymised captures (tcpdpriv, Crypto-PAn) rewrite the outer header and leave the
            // quoted one as it was: the error's sender stands for the target it speaks for.
            return answer(to: tag, from: packet.source, port: port, at: packet.timestamp, success: false).alert
        default:
            break
        }
        let flags = packet.tcpFlags
        if flags.contains(.syn) {
            // A SYN/ACK answers someone else's attempt: it is never a probe (backscatter, or a
            // server answering), only an outcome for the source it is sent to.
            return flags.contains(.ack)
                ? answer(to: tag, from: packet.source, port: packet.sourcePort, at: packet.timestamp, success: true)
                    .alert
                : probe(packet, tag: tag)
        }
        if flags.contains(.rst) {
            // A RST without ACK answers a segment that carried an ACK (RFC 9293 §3.10.7.1): on
            // a pair the source never opened, its ACK or Maimon probe.
            let outcome = answer(
                to: tag, from: packet.source, port: packet.sourcePort, at: packet.timestamp,
                success: false, confirmsACKProbe: !flags.contains(.ack))
            if !outcome.matched && !flags.contains(.ack) {
                vote(packet, Field.halfOpenResets, tag: table.tag(of: key(packet.source)))
            }
            return outcome.alert
        }
        // No SYN, no RST and no ACK: nothing in a real connection looks like this. Every segment
        // after the first carries ACK, and a FIN without it is nmap's -sF, no flags its -sN,
        // FIN+PSH+URG its -sX.
        if !flags.contains(.ack) { return probe(packet, tag: tag) }
        if packet.payloadLength > 0 {
            // Data on a pair the source probed: it came back to talk (a login, an exploit).
            guard let slot = table.find(tag: tag), table.load(slot, Field.state) & SourceTable.State.declared != 0,
                table.testBit(
                    slot, Field.pairBitmap, table.pairIndex(host: packet.destination, port: packet.destinationPort))
            else { return nil }
            _ = table.insertBit(slot, Field.payloadHostBitmap, table.hostIndex(packet.destination))
            return nil
        }
        if flags == .ack, vote(packet, Field.handshakes, tag: tag) { return nil }
        // Not a handshake's end: an ACK or FIN+ACK on a pair the source never opened. Two marks
        // keep the segments of connections that predate the capture out: most operating systems
        // put options (timestamps) on every segment, nmap's probes carry none; and a segment from
        // a lower port to a higher one is a server's side of a connection (the convention flow
        // tools orient flows by), while a scanner probes service ports from a high one.
        guard packet.tcpOptions.count == 0, packet.sourcePort > packet.destinationPort else { return nil }
        return ackProbe(packet, tag: tag)
    }

    private typealias Field = SourceTable.Field

    /// An unsolicited probe from `packet.source`: a SYN, or a stealth FIN/NULL/Xmas segment.
    private func probe(_ packet: DecodedPacket, tag: UInt64) -> Alert? {
        let source = packet.source
        if hasIgnoredSources, ignoredSources.contains(where: { $0.contains(source) }) { return nil }
        let now = packet.timestamp.nanoseconds
        guard let slot = table.findOrInsert(tag: tag, address: source, now: now) else { return nil }
        let previousProbe = Int64(bitPattern: table.load(slot, Field.lastSeen))
        table.touch(slot, now: now)
        if hasHomeNetwork {
            table.markState(
                slot, isHome(packet.destination) ? SourceTable.State.targetsInside : SourceTable.State.targetsOutside)
        }
        // Probes of this kind so far: the first of each kind carry a tool's fingerprint.
        let probesOfThisKind: UInt64
        let isUDP = packet.transport == .udp
        let isPing = packet.transport == .icmp || packet.transport == .icmpv6
        if isUDP {
            probesOfThisKind = table.add(slot, Field.udpProbes)
        } else if isPing {
            probesOfThisKind = table.add(slot, Field.icmpProbes)
        } else if packet.tcpFlags.contains(.syn) {
            let options = packet.tcpOptions
            let fromStack =
                options.has(TCPOptionSummary.sackPermitted) || options.has(TCPOptionSummary.timestamps)
                || options.has(TCPOptionSummary.windowScale)
            // The operating system made a SYN with its options: no tool's marks to examine.
            probesOfThisKind = fromStack ? .max : table.add(slot, Field.rawSYNs)
            if fromStack {
                table.add(slot, Field.stackSYNs)
                table.markNetwork(slot, of: packet.destination)
            }
        } else {
            probesOfThisKind = table.countStealthProbe(slot, StealthKind(packet.tcpFlags))
        }
        // The line holding the evidence is not touched after a source's first probes.
        let examined = probesOfThisKind <= ToolFingerprint.sampleSize
        if examined { table.recordFingerprint(slot, packet) }

        let port = isPing ? 0 : packet.destinationPort
        let undeclared = table.load(slot, Field.state) & SourceTable.State.declared == 0
        // Until the source is declared, its SYNs are watched for retransmissions: the attempt
        // before went unanswered.
        let retransmitted =
            undeclared && packet.tcpFlags.contains(.syn) && table.repeatsLatestSYN(slot, packet)
            && abs(now &- previousProbe) >= configuration.retransmissionGap.nanosecondCount
        guard
            let contacts = countFirstContact(
                slot, host: packet.destination, port: isPing ? nil : port,
                pair: table.pairIndex(host: packet.destination, port: port))
        else {
            // Not a new first contact; a retransmission scores the first attempt as failed.
            guard retransmitted else { return nil }
            return answer(to: tag, from: packet.destination, port: port, at: packet.timestamp, success: false).alert
        }
        // A declared source's later probes are only counted: the rules below decide nothing more.
        guard undeclared else { return nil }

        // A raw-packet tool's marks on its first probes name a scanner by themselves: five
        // distinct first contacts carrying nmap's, masscan's or zmap's fingerprint do not come
        // from a client. Looked at only while the fingerprint is still being sampled.
        if examined && contacts >= ToolFingerprint.minimumSample,
            ToolFingerprint.identify(table.toolEvidence(slot)) != nil,
            table.declare(slot, path: SourceTable.State.byFingerprint, detectedAfter: contacts, at: now)
        {
            return alert(slot, contacts: contacts, at: packet.timestamp, path: .toolFingerprint)
        }

        let outcomes = table.load(slot, Field.outcomes)
        let unanswered = contacts - Int((outcomes & 0xFFFF_FFFF) &+ (outcomes >> 32))
        // Unanswered UDP proves less than unanswered TCP: a one-way capture of a busy DNS server
        // shows its replies as datagrams to thousands of clients. UDP counts toward the vertical
        // rule only.
        // Pings have no ports: they count toward the horizontal rule only.
        let enough =
            (!isUDP && unanswered >= configuration.unansweredContactsToDeclare)
            || (!isPing && unanswered >= configuration.unansweredPortsToDeclare
                && table.ones(slot, Field.hostBitmap) <= 2
                && table.ones(slot, Field.portBitmap) >= configuration.unansweredPortsToDeclare)
        guard enough, !reachesPeersAcrossTheInternet(slot),
            table.declare(slot, path: SourceTable.State.byUnansweredCount, detectedAfter: contacts, at: now)
        else { return nil }
        return alert(slot, contacts: contacts, at: packet.timestamp, path: .unansweredContacts)
    }

    /// The outcome of a first contact: an answer from `host`:`port` to the source whose tag is
    /// `tag` (a SYN/ACK or UDP reply: success; a RST or ICMP unreachable: failure).
    ///
    /// - Parameter confirmsACKProbe: the answer is a RST without ACK, which makes an ACK or
    ///   Maimon probe on the pair a first contact.
    private func answer(
        to tag: UInt64, from host: IPAddress, port: UInt16, at time: Timestamp, success: Bool,
        confirmsACKProbe: Bool = false
    ) -> (matched: Bool, alert: Alert?) {
        guard let slot = table.find(tag: tag) else { return (false, nil) }
        let pair = table.pairIndex(host: host, port: port)
        if !table.testBit(slot, Field.pairBitmap, pair) {
            guard confirmsACKProbe, table.testBit(slot, Field.ackPairBitmap, pair) else { return (false, nil) }
            countFirstContact(slot, host: host, port: port, pair: pair)
        }
        // Each first contact is scored once, whatever the retransmissions.
        guard table.insertBit(slot, Field.answeredBitmap, pair) else { return (true, nil) }
        if success {
            table.add(slot, Field.outcomes, 1)
            _ = table.step(slot, by: -1, floor: Int64(configuration.successCreditLimit))
            return (true, nil)
        }
        table.add(slot, Field.outcomes, 1 << 32)
        let score = table.step(slot, by: 1, floor: Int64(configuration.successCreditLimit))
        guard score >= configuration.failureStepsToDeclare,
            table.load(slot, Field.state) & SourceTable.State.declared == 0
        else { return (true, nil) }
        let contacts = Int(table.load(slot, Field.contacts))
        guard !reachesPeersAcrossTheInternet(slot),
            table.declare(
                slot, path: SourceTable.State.bySequentialTest, detectedAfter: contacts,
                at: time.nanoseconds)
        else { return (true, nil) }
        return (true, alert(slot, contacts: contacts, at: time, path: .sequentialTest))
    }

    /// Marks a (host, port) pair contacted (port nil for a ping) and returns the source's
    /// first contacts if it is a new one, nil for a repeat.
    @discardableResult @inline(__always)
    private func countFirstContact(_ slot: Int, host: IPAddress, port: UInt16?, pair: Int) -> Int? {
        // Ports and hosts are counted on every probe: once the pair bitmap fills, a new pair
        // can land on a set bit, and the port and host maps must not inherit that loss.
        if let port, table.insertBit(slot, Field.portBitmap, table.portIndex(port)) { table.samplePort(slot, port) }
        _ = table.insertBit(slot, Field.hostBitmap, table.hostIndex(host))
        guard table.insertBit(slot, Field.pairBitmap, pair) else { return nil }
        return Int(table.add(slot, Field.contacts))
    }

    /// A client of the operating system's stack whose connections spread over unrelated
    /// networks (`DetectorConfiguration.spreadNetworks`): many of them, or a new one for most
    /// first contacts so far — a scan of a network returns to it, a P2P client hardly ever does.
    private func reachesPeersAcrossTheInternet(_ slot: Int) -> Bool {
        guard table.load(slot, Field.stackSYNs) > table.load(slot, Field.rawSYNs) else { return false }
        let networks = table.networks(slot)
        return networks >= configuration.spreadNetworks || networks * 2 > Int(table.load(slot, Field.contacts))
    }

    /// Counts a packet the source sends on a pair it probed: the technique's evidence. True if
    /// the pair was one of its probes.
    @discardableResult
    private func vote(_ packet: DecodedPacket, _ field: Int, tag: UInt64) -> Bool {
        guard let slot = table.find(tag: tag),
            table.testBit(
                slot, Field.pairBitmap, table.pairIndex(host: packet.destination, port: packet.destinationPort))
        else { return false }
        table.addToLane(slot, field, .low)
        return true
    }

    /// An ACK (nmap -sA, -sW) or FIN+ACK (nmap -sM) probe: a segment of a connection the
    /// source never opened, without payload or options.
    ///
    /// A capture that starts mid-connection shows the same thing, so the pair is only marked
    /// here; it becomes a first contact, and a failure, when the target answers with a RST
    /// (`answer`). Segments from other ports than the source's first ACK probe are not probes:
    /// a scan sends from one port, a host's connections each from their own (hping3's default
    /// of a new port per probe is not recognised for that reason). Nothing else is decided on
    /// such probes except by a raw-packet tool's fingerprint: a filtered ACK scan from anything
    /// but nmap goes unnamed, the price of never accusing a host whose connections predate the
    /// capture. The price of the check: a host whose stack puts no options on its ACKs (Windows)
    /// and whose connections began before the capture gets a table entry, found at once after.
    private func ackProbe(_ packet: DecodedPacket, tag: UInt64) -> Alert? {
        let source = packet.source
        if hasIgnoredSources, ignoredSources.contains(where: { $0.contains(source) }) { return nil }
        let now = packet.timestamp.nanoseconds
        guard let slot = table.findOrInsert(tag: tag, address: source, now: now) else { return nil }
        table.touch(slot, now: now)
        let pair = table.pairIndex(host: packet.destination, port: packet.destinationPort)
        // The close of a connection this source opened, or a segment of one of its connections
        // from another port than its ACK probes come from: not a probe.
        guard !table.testBit(slot, Field.pairBitmap, pair), table.isACKProbePort(slot, packet.sourcePort) else {
            return nil
        }
        if hasHomeNetwork {
            table.markState(
                slot, isHome(packet.destination) ? SourceTable.State.targetsInside : SourceTable.State.targetsOutside)
        }
        guard table.insertBit(slot, Field.ackPairBitmap, pair) else { return nil }
        let probes = table.addToLane(
            slot, packet.tcpFlags.contains(.fin) ? Field.halfOpenResets : Field.handshakes, .high)
        guard probes <= ToolFingerprint.sampleSize else { return nil }
        table.recordFingerprint(slot, packet)
        guard table.load(slot, Field.state) & SourceTable.State.declared == 0 else { return nil }
        let contacts = max(Int(table.load(slot, Field.contacts)), table.ones(slot, Field.ackPairBitmap))
        guard contacts >= ToolFingerprint.minimumSample, ToolFingerprint.identify(table.toolEvidence(slot)) != nil,
            table.declare(slot, path: SourceTable.State.byFingerprint, detectedAfter: contacts, at: now)
        else { return nil }
        return alert(slot, contacts: contacts, at: packet.timestamp, path: .toolFingerprint)
    }

    private func alert(_ slot: Int, contacts: Int, at time: Timestamp, path: DecisionPath) -> Alert {
        let address = IPAddress(high: table.load(slot, Field.addressHigh), low: table.load(slot, Field.addressLow))
        noteDeclared(key(address))
        let stealth = table.stealthProbes(slot)
        return Alert(
            source: address,
            technique: Self.technique(
                ProbeCounts(
                    handshakes: table.lane(slot, Field.handshakes, .low),
                    halfOpenResets: table.lane(slot, Field.halfOpenResets, .low),
                    stackSYNs: Int(table.load(slot, Field.stackSYNs)), rawSYNs: Int(table.load(slot, Field.rawSYNs)),
                    fin: stealth.fin, null: stealth.null, xmas: stealth.xmas,
                    ack: table.lane(slot, Field.handshakes, .high),
                    maimon: table.lane(slot, Field.halfOpenResets, .high),
                    udp: Int(table.load(slot, Field.udpProbes)), icmp: Int(table.load(slot, Field.icmpProbes)))),
            detectedAfter: contacts, time: time, path: path)
    }

    /// A source's probes by kind, and the votes that split SYNs into syn and connect.
    struct ProbeCounts {
        var handshakes = 0, halfOpenResets = 0, stackSYNs = 0, rawSYNs = 0
        var fin = 0, null = 0, xmas = 0, ack = 0, maimon = 0, udp = 0, icmp = 0
    }

    /// Share of a source's probes one kind must reach to name the technique; below it, `mixed`.
    /// nmap sends one kind per scan; a fifth of another kind is a deliberate mix.
    static let dominantShare = 0.8

    /// The technique: the kind of probe that dominates, else `mixed`.
    ///
    /// SYNs are `syn` or `connect`. What the source did after open ports answered decides: a
    /// completed handshake means the operating system's stack (connect), a bare RST means a
    /// raw-packet scanner tearing down half-open connections (syn). When no port was open the
    /// SYNs themselves decide: an operating system sends SACK-permitted, timestamps or window
    /// scale; raw-packet scanners send no options or MSS only.
    static func technique(_ c: ProbeCounts) -> ScanTechnique {
        let syns = c.stackSYNs + c.rawSYNs
        let total = Double(syns + c.fin + c.null + c.xmas + c.ack + c.maimon + c.udp + c.icmp)
        let synTechnique: ScanTechnique =
            c.handshakes != c.halfOpenResets
            ? (c.handshakes > c.halfOpenResets ? .connect : .syn)
            : (c.stackSYNs > c.rawSYNs ? .connect : .syn)
        guard total > 0 else { return synTechnique }
        let kinds: [(ScanTechnique, Int)] = [
            (synTechnique, syns), (.fin, c.fin), (.null, c.null), (.xmas, c.xmas), (.ack, c.ack), (.maimon, c.maimon),
            (.udp, c.udp), (.icmp, c.icmp),
        ]
        let (kind, count) = kinds.max { $0.1 < $1.1 }!
        return Double(count) >= dominantShare * total ? kind : .mixed
    }

    // MARK: Episodes

    /// Reports the episodes due at `now` (idle or too long) and frees idle sources that were
    /// never declared. Not reentrant: one sweeper at a time.
    public func sweep(now: Timestamp) -> [Episode] {
        var episodes: [Episode] = []
        let idle = configuration.idleGap.nanosecondCount
        let longest = configuration.maxEpisodeLength.nanosecondCount
        var stillDeclared = [UInt64](repeating: 0, count: Self.declaredFilterWords)
        for slot in 0..<table.capacity {
            // Cheap test first: most slots are empty or busy.
            let tag = table.tag(at: slot)
            guard tag & 1 == 1 else { continue }
            let lastSeen = Int64(bitPattern: table.load(slot, Field.lastSeen))
            let firstSeen = Int64(bitPattern: table.load(slot, Field.firstSeen))
            let isIdle = now.nanoseconds &- lastSeen >= idle
            let isLong = now.nanoseconds &- firstSeen >= longest
            guard isIdle || isLong else {
                if table.load(slot, Field.state) & SourceTable.State.declared != 0 {
                    let address = IPAddress(
                        high: table.load(slot, Field.addressHigh), low: table.load(slot, Field.addressLow))
                    let bit = declaredFilterBit(key(address))
                    stillDeclared[bit >> 6] |= 1 << UInt64(bit & 63)
                }
                continue
            }
            guard let snapshot = table.snapshot(slot) else { continue }
            if snapshot.declared {
                episodes.append(episode(from: snapshot, end: isIdle ? .idle : .maximumLength))
                table.release(slot, tag: snapshot.tag)
            } else if isIdle {
                table.release(slot, tag: snapshot.tag)
            }
        }
        for (i, word) in stillDeclared.enumerated() { (declaredFilter + i).pointee.store(word, ordering: .relaxed) }
        return episodes.sorted { $0.firstSeen < $1.firstSeen }
    }

    /// Reports every open episode: the input ended or the sensor is stopping.
    public func closeAll() -> [Episode] {
        var episodes: [Episode] = []
        for slot in 0..<table.capacity {
            guard let snapshot = table.snapshot(slot), snapshot.declared else { continue }
            episodes.append(episode(from: snapshot, end: .endOfInput))
            table.release(slot, tag: snapshot.tag)
        }
        return episodes.sorted { $0.firstSeen < $1.firstSeen }
    }

    func episode(from s: SourceSnapshot, end: EpisodeEnd) -> Episode {
        let shape: ScanShape =
            s.distinctTargets <= 1
            ? .vertical
            : s.distinctPorts <= configuration.horizontalPortLimit ? .horizontal : .block
        var episode = Episode(
            source: s.address, firstSeen: s.firstSeen, lastSeen: s.lastSeen,
            technique: Self.technique(
                ProbeCounts(
                    handshakes: s.handshakes, halfOpenResets: s.halfOpenResets, stackSYNs: s.stackSYNs,
                    rawSYNs: s.rawSYNs, fin: s.finProbes, null: s.nullProbes, xmas: s.xmasProbes, ack: s.ackProbes,
                    maimon: s.maimonProbes, udp: s.udpProbes, icmp: s.icmpProbes)),
            shape: shape, probes: s.probes, distinctPorts: s.distinctPorts,
            distinctTargets: s.distinctTargets, ports: s.portSample.sorted(),
            detectedAfter: s.detectedAfter, declaredAt: s.declaredAt,
            decidedBy: s.decidedBy,
            successes: s.successes, failures: s.failures, end: end)
        if let (tool, confidence) = ToolFingerprint.identify(s.toolEvidence) {
            episode.tool = tool
            episode.toolConfidence = confidence
        }
        episode.payloadHosts = s.payloadHosts
        if hasHomeNetwork {
            let fromHome = isHome(s.address)
            episode.direction =
                s.targetsInside && s.targetsOutside
                ? .mixed
                : s.targetsInside
                    ? (fromHome ? .`internal` : .inbound)
                    : (fromHome ? .outbound : .transit)
        }
        return episode
    }
}
