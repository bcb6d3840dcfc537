public import WireFormat

/// Which inbound flows become records.
public enum ReportPolicy: String, Sendable, CaseIterable {
    /// Every unsolicited inbound flow, as the official sensor's firewall log does.
    case all
    /// Inbound connection attempts never answered positively: no SYN/ACK, no UDP reply, no echo
    /// reply within the answer deadline, or refused by a RST or an ICMP error. What a blocked
    /// port on a firewall would log, and the default: a client reaching a real service is not
    /// reported.
    case failed
    /// Inbound flows from sources the scan detector has declared, asked at the answer deadline.
    case scans
}

/// Tunables of the flow table, each with its reason.
public struct FlowTableConfiguration: Sendable {
    /// The protected network: flows from outside toward it are inbound. Traffic with both ends
    /// inside or both outside is not DShield's business and is ignored.
    public var homeNetwork: [IPPrefix]
    public var policy: ReportPolicy
    /// Sources and destinations never reported.
    public var exclusions: AddressExclusions
    /// IPv6 records are opt-in: the official sensor sends IPv4 only (its IPv6 issue has been
    /// open since 2017), and whether the server stores version-6 records is unconfirmed.
    public var includeIPv6: Bool
    /// Flows tracked at once. 131,072 flows of about 150 bytes with the dictionary's overhead is
    /// about 20 MiB; Linux conntrack defaults to the same order. Beyond it new inbound flows are
    /// reported untracked (see `FlowTable`).
    public var maximumFlows: Int
    /// How long `failed` and `scans` wait for an answer before deciding. An answer arrives within
    /// one round trip; 30 s also covers a client's SYN retransmissions at 1, 3 and 7 s, and is
    /// conntrack's timeout for unreplied UDP.
    public var answerDeadline: Duration
    /// Idle time after which an unanswered flow is forgotten (conntrack's TCP SYN_SENT, 120 s):
    /// a scanner's retransmissions inside it stay one record.
    public var unansweredIdleTimeout: Duration
    /// Idle time after which an answered flow is forgotten: an inbound one answered positively,
    /// or one a home host opened that the outside answered. Conntrack keeps established TCP for
    /// five days; an hour bounds what a connection flood can pin, at the cost of one more record
    /// when a connection idle for longer speaks again.
    public var answeredIdleTimeout: Duration
    /// Expired flows are swept at most this often (packet time): the sweep walks the whole table.
    public var sweepInterval: Duration

    public init(
        homeNetwork: [IPPrefix], policy: ReportPolicy = .failed, exclusions: AddressExclusions = AddressExclusions(),
        includeIPv6: Bool = false, maximumFlows: Int = 131_072, answerDeadline: Duration = .seconds(30),
        unansweredIdleTimeout: Duration = .seconds(120), answeredIdleTimeout: Duration = .seconds(3600),
        sweepInterval: Duration = .seconds(1)
    ) {
        self.homeNetwork = homeNetwork
        self.policy = policy
        self.exclusions = exclusions
        self.includeIPv6 = includeIPv6
        self.maximumFlows = maximumFlows
        self.answerDeadline = answerDeadline
        self.unansweredIdleTimeout = unansweredIdleTimeout
        self.answeredIdleTimeout = answeredIdleTimeout
        self.sweepInterval = sweepInterval
    }
}

/// Turns decoded packets into DShield records: one per unsolicited inbound flow, the flow's
/// first packet, as netfilter's nat-table log of conntrack NEW packets gives the official sensor.
///
/// A flow is the 5-tuple seen from the home side (outside address and port, inside address and
/// port, protocol; ICMP flows are the address pair, as the decoder reads no echo identifier).
/// Whoever sends a flow's first packet owns it: a flow a home host opened is never reported, and
/// its replies are answers, not attempts. Under `failed` and `scans` an inbound flow's record is
/// withheld until its answer deadline passes or an answer decides it: a SYN/ACK, a UDP datagram
/// back or an echo reply is positive; a RST, or an ICMP error quoting the attempt, is negative and
/// decides at once. TCP first packets carrying ACK or RST (backscatter, the middle of a connection
/// begun before the capture) are no attempt and are reported under `all` only.
///
/// Everything runs on packet time, so a replayed capture and a live run agree; a live caller on a
/// quiet link calls `advance(to:)` with the wall clock so withheld records still leave on time.
/// Packet time also settles who spoke first when packets are fed out of order: a passive tap
/// delivers each direction on its own interface, so a live sensor may hand over a home host's
/// answer before the attempt it answers. When an inbound packet is older than the flow a home
/// packet seemed to open, that home packet was its answer, and the flow is the outside's. (The
/// reverse, a reply fed before the home host's opening packet, is left alone: under `all` such a
/// reply is reported at once as an inbound flow; `failed` and `scans` never report it.)
/// Memory is bounded by `maximumFlows`: when the table is full, a new inbound flow is reported at
/// once without being tracked (counted in `untrackedFlows`) — a flood of new flows is almost all
/// unanswered attempts, and reporting beats losing them; the price is that its retransmissions may
/// be reported again. Not thread-safe: `live` guards its one table with a lock.
public final class FlowTable {
    public let configuration: FlowTableConfiguration
    /// For `scans`: whether the detector has declared a source.
    private let sourceIsScanner: (IPAddress) -> Bool

    /// Inbound flows reported without tracking because the table was full (their retransmissions
    /// may have been reported again); `read` and `live` say it at the end of the run.
    public private(set) var untrackedFlows = 0
    /// Flows held now.
    public var count: Int { flows.count }

    private struct Key: Hashable {
        var outside: IPAddress
        var inside: IPAddress
        var outsidePort: UInt16
        var insidePort: UInt16
        var ipProtocol: UInt8
    }

    private struct Flow {
        var record: DShieldRecord
        var firstSeen: Timestamp
        var lastSeen: Timestamp
        /// The outside opened it.
        var inbound: Bool
        /// A positive answer came back.
        var answered: Bool
        /// The record was emitted or ruled out; nothing more to decide.
        var decided: Bool
        /// For a flow the home side opened: what its first packet says if it turns out to be an
        /// answer (true positive, false negative), nil when it cannot be one (a bare SYN, an echo
        /// request).
        var openingAnswer: Bool? = nil
    }

    private var flows: [Key: Flow] = [:]
    private var lastSweep = Timestamp.zero

    public init(
        _ configuration: FlowTableConfiguration, sourceIsScanner: @escaping (IPAddress) -> Bool = { _ in false }
    ) {
        self.configuration = configuration
        self.sourceIsScanner = sourceIsScanner
        flows.reserveCapacity(min(configuration.maximumFlows, 4096))
    }

    /// Feeds one packet; records it decides (this packet's, or withheld ones whose deadline
    /// passed) are appended to `records` in time order.
    public func process(_ packet: DecodedPacket, into records: inout [DShieldRecord]) {
        advance(to: packet.timestamp, into: &records)
        guard packet.source.isIPv4 || configuration.includeIPv6, let ports = Self.ports(of: packet) else { return }
        let sourceInside = isHome(packet.source)
        let destinationInside = isHome(packet.destination)
        if sourceInside && !destinationInside {
            outbound(packet, ports: ports, into: &records)
        } else if destinationInside && !sourceInside {
            inbound(packet, ports: ports, into: &records)
        }
    }

    /// Decides withheld records whose deadline passed by `now` and forgets idle flows; at most
    /// once per `sweepInterval`. A live caller passes the wall clock when no packet arrives.
    public func advance(to now: Timestamp, into records: inout [DShieldRecord]) {
        guard now - lastSweep >= configuration.sweepInterval else { return }
        lastSweep = now
        var decided: [DShieldRecord] = []
        let deadline = configuration.answerDeadline
        for (key, flow) in flows {
            if !flow.decided && now - flow.firstSeen >= deadline {
                flows[key]!.decided = true
                if let record = verdict(flow) { decided.append(record) }
            }
            let idle = flow.answered ? configuration.answeredIdleTimeout : configuration.unansweredIdleTimeout
            if now - flow.lastSeen >= idle && (flows[key]!.decided) { flows[key] = nil }
        }
        emit(decided.sorted { $0.time < $1.time }, into: &records)
    }

    /// End of input: every withheld record is decided as it stands (unanswered so far).
    public func finish(into records: inout [DShieldRecord]) {
        var decided: [DShieldRecord] = []
        for (key, flow) in flows where !flow.decided {
            flows[key]!.decided = true
            if let record = verdict(flow) { decided.append(record) }
        }
        emit(decided.sorted { $0.time < $1.time }, into: &records)
    }

    // MARK: - Directions

    private func inbound(_ packet: DecodedPacket, ports: (UInt16, UInt16), into records: inout [DShieldRecord]) {
        guard !configuration.exclusions.excludesSource(packet.source),
            !AddressExclusions.isGroupDestination(packet.destination), !isHomeBroadcast(packet.destination)
        else { return }
        // An ICMP error about a packet a home host sent belongs to that host's flow (conntrack
        // RELATED), not to a new inbound one.
        if let quoted = packet.quoted, isHome(quoted.source) { return }
        let key = Key(
            outside: packet.source, inside: packet.destination, outsidePort: ports.0, insidePort: ports.1,
            ipProtocol: packet.ipProtocol)
        var earlierAnswer: (positive: Bool, time: Timestamp)? = nil
        if let existing = flows[key] {
            guard !existing.inbound, let positive = existing.openingAnswer, packet.timestamp < existing.firstSeen else {
                flows[key]!.lastSeen = packet.timestamp
                // The outside speaking in a flow a home host opened is a conversation: kept for the
                // answered idle timeout, so a peer quiet for minutes (a long poll, IMAP IDLE) is
                // not taken for a new inbound flow when it speaks again. A RST ends it instead.
                if !existing.inbound && !(packet.transport == .tcp && packet.tcpFlags.contains(.rst)) {
                    flows[key]!.answered = true
                }
                return
            }
            // This packet came first on the wire: the home packet, fed earlier, answered it.
            flows[key] = nil
            earlierAnswer = (positive, existing.lastSeen)
        }
        let record = DShieldRecord(packet: packet)
        let isAttempt = !(packet.transport == .tcp && !packet.tcpFlags.isDisjoint(with: [.ack, .rst]))
        guard flows.count < configuration.maximumFlows else {
            untrackedFlows += 1
            if configuration.policy == .all || isAttempt { emit([record], into: &records) }
            return
        }
        var flow = Flow(
            record: record, firstSeen: packet.timestamp, lastSeen: packet.timestamp, inbound: true, answered: false,
            decided: false)
        switch configuration.policy {
        case .all:
            flow.decided = true
            emit([record], into: &records)
        case .failed, .scans:
            flow.decided = !isAttempt
        }
        flows[key] = flow
        if let earlierAnswer {
            flows[key]!.lastSeen = earlierAnswer.time
            answer(key, positive: earlierAnswer.positive, at: earlierAnswer.time, into: &records)
        }
    }

    private func outbound(_ packet: DecodedPacket, ports: (UInt16, UInt16), into records: inout [DShieldRecord]) {
        // A home host's ICMP error quoting an inbound attempt refuses that attempt.
        if let quoted = packet.quoted, !isHome(quoted.source) {
            let key = Key(
                outside: quoted.source, inside: quoted.destination, outsidePort: quoted.sourcePort,
                insidePort: quoted.destinationPort, ipProtocol: quoted.ipProtocol)
            if let flow = flows[key], flow.inbound {
                answer(key, positive: false, at: packet.timestamp, into: &records)
            }
            return
        }
        let key = Key(
            outside: packet.destination, inside: packet.source, outsidePort: ports.1, insidePort: ports.0,
            ipProtocol: packet.ipProtocol)
        guard let flow = flows[key] else {
            if flows.count < configuration.maximumFlows {
                flows[key] = Flow(
                    record: DShieldRecord(packet: packet), firstSeen: packet.timestamp, lastSeen: packet.timestamp,
                    inbound: false,
                    answered: false, decided: true, openingAnswer: Self.meaningAsAnswer(packet))
            }
            return
        }
        flows[key]!.lastSeen = packet.timestamp
        guard flow.inbound else { return }
        switch packet.transport {
        case .tcp: answer(key, positive: !packet.tcpFlags.contains(.rst), at: packet.timestamp, into: &records)
        case .icmp where packet.icmpType == 0, .icmpv6 where packet.icmpType == 129:
            answer(key, positive: true, at: packet.timestamp, into: &records)  // echo reply
        case .icmp, .icmpv6: break
        default: answer(key, positive: true, at: packet.timestamp, into: &records)
        }
    }

    /// What a home packet says as an answer to an inbound attempt (as `outbound` reads it), or
    /// nil when it can only open a flow.
    private static func meaningAsAnswer(_ packet: DecodedPacket) -> Bool? {
        switch packet.transport {
        case .tcp where packet.tcpFlags.contains(.rst): false
        case .tcp: packet.tcpFlags.contains(.ack) ? true : nil
        case .icmp where packet.icmpType == 0, .icmpv6 where packet.icmpType == 129: true
        case .icmp, .icmpv6: nil
        default: true
        }
    }

    /// Records an answer to an inbound flow. `failed` decides at once; `scans` waits for the
    /// deadline, since the detector may declare the source only a few probes later.
    private func answer(_ key: Key, positive: Bool, at time: Timestamp, into records: inout [DShieldRecord]) {
        if positive { flows[key]!.answered = true }
        guard configuration.policy == .failed, !flows[key]!.decided else { return }
        flows[key]!.decided = true
        if !positive { emit([flows[key]!.record], into: &records) }
    }

    /// The record a withheld flow yields when decided without (further) answer, if any.
    private func verdict(_ flow: Flow) -> DShieldRecord? {
        switch configuration.policy {
        case .all: nil
        case .failed: flow.answered ? nil : flow.record
        case .scans: sourceIsScanner(flow.record.source) ? flow.record : nil
        }
    }

    private func emit(_ decided: [DShieldRecord], into records: inout [DShieldRecord]) {
        records.append(contentsOf: decided)
    }

    // MARK: - Addresses and ports

    private func isHome(_ address: IPAddress) -> Bool {
        configuration.homeNetwork.contains { $0.contains(address) }
    }

    /// The directed broadcast of an IPv4 home block of /30 or wider, which netfilter sees as
    /// packet type broadcast.
    private func isHomeBroadcast(_ address: IPAddress) -> Bool {
        guard address.isIPv4 else { return false }
        return configuration.homeNetwork.contains { prefix in
            prefix.network.isIPv4 && prefix.length <= 30
                && address.ipv4Value == prefix.network.ipv4Value | (UInt32.max >> UInt32(prefix.length))
        }
    }

    /// The (source, destination) ports of a flow's key, or nil for packets that are no flow's
    /// first packet or that DShield does not take: non-first fragments, and protocols outside
    /// the official parser's set (ICMP, IGMP, TCP, UDP, ESP, AH, ICMPv6; reference §3.2).
    private static func ports(of packet: DecodedPacket) -> (UInt16, UInt16)? {
        switch packet.transport {
        case .tcp, .udp: (packet.sourcePort, packet.destinationPort)
        case .icmp, .icmpv6: (0, 0)
        case .other where [2, 50, 51].contains(packet.ipProtocol): (0, 0)
        case .other, .fragment: nil
        }
    }
}
