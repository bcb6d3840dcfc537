import WireFormat

/// Recognises the scanning tool from header fields it sets in a fixed way, voted over the first
/// probes of a source (detection.md §6 gives each rule with its source in the tool's code).
///
/// Only raw-packet scanners leave such marks. A scan made through the operating system's own
/// stack (nmap -sT, nc -z) carries none, and gets no label: a wrong label is worse than none.
/// ZMap from 4.1 (2024) randomises its IP ID and mimics a Windows SYN, so it is not recognised.
public enum ToolFingerprint {
    /// Probes per source whose headers are examined. Every rule below either holds for nearly
    /// every probe of a tool or for a random probe by chance at most once in 65,536, so a few
    /// dozen decide; examining only the first ones keeps later probes off the evidence's line.
    public static let sampleSize = 64
    /// Probes needed before any label is given.
    public static let minimumSample = 5
    /// Share of the examined probes a rule must match.
    public static let minimumShare = 0.9

    /// What the examined probes showed, one count per rule.
    public struct Evidence: Sendable, Equatable {
        public var examined = 0
        /// IP ID 54321: ZMap up to 4.0 (`zmap:src/probe_modules/packet.c`).
        public var zmapIPID = 0
        /// IP ID = (destination ⊕ destination port ⊕ sequence) mod 2¹⁶: masscan's template. For
        /// UDP, where no header field shows the sequence, masscan's other marks: an empty
        /// datagram sent with TTL 255 (seen above 128), and not zmap's IP ID.
        public var masscanIPID = 0
        /// Sequence number = destination address: Mirai's scanner and its descendants.
        public var miraiSequence = 0
        /// Window 512, no options, acknowledgement field set without the ACK flag: hping3.
        public var hping3 = 0
        /// Window 1024, 2048, 3072 or 4096 with an MSS-only option list (SYN) or no options
        /// (FIN/NULL/Xmas/ACK): nmap's raw probes. For UDP and echo requests, nmap's TTL, drawn
        /// per probe from 37–59: unlike the previous probe's (a source's first: at most 59), and
        /// for an echo request no data.
        public var nmapShape = 0
        /// Sequence number equal to the previous examined probe's: nmap reuses one per scan.
        /// For UDP a source port at most `sourcePortDrift` above or below the previous one (nmap
        /// keeps one and adds the try number on retries, masscan alternates two 16 apart), for an
        /// echo request its sequence number (nmap sends 0 each time, ping counts up).
        public var repeatedSequence = 0
        /// Window 4128 and sequence ⊕ destination ⊕ ports equal to the previous probe's:
        /// unicornscan's keyed sequence, constant per scan.
        public var unicornscan = 0

        public init() {}
    }

    /// The tool and the share of examined probes that say so, or nil.
    public static func identify(_ e: Evidence) -> (tool: String, confidence: Double)? {
        guard e.examined >= minimumSample else { return nil }
        // Integer counts, compared without building anything: this runs on each of a source's
        // first probes. Relations that chance satisfies once in 65,536 probes, or never, come
        // first; nmap needs both its window/options shape and its repeated sequence number (the
        // shape alone is shared with masscan's window of 1024).
        var best = ""
        var bestCount = 0
        func consider(_ tool: String, _ count: Int) {
            if count > bestCount {
                best = tool
                bestCount = count
            }
        }
        consider("masscan", e.masscanIPID)
        consider("zmap", e.zmapIPID)
        consider("mirai", e.miraiSequence)
        consider("unicornscan", e.unicornscan)
        consider("hping3", e.hping3)
        consider("nmap", min(e.nmapShape, e.repeatedSequence))
        let share = Double(bestCount) / Double(e.examined)
        guard share >= minimumShare else { return nil }
        return (best, (share * 100).rounded() / 100)
    }

    /// What an examined probe leaves for the next one to be compared with, in one table word:
    /// for TCP its sequence number and unicornscan key, for UDP its source port and TTL, for an
    /// echo request its sequence number and TTL. Comparing with the previous probe rather than
    /// the first keeps what came before a scan (a resolver's DNS query, nmap's host discovery
    /// with its own sequence number) from becoming every probe's yardstick: it costs one
    /// unmarked probe per change.
    struct Reference: Equatable {
        enum Kind: UInt64 {
            case tcp = 1, udp, echo
        }
        var kind: Kind
        var high: UInt32
        /// 30 bits: the kind takes bits 30–31 of the word's low half (a unicornscan key compared
        /// on 30 bits still matches by chance once in a billion).
        var low: UInt32

        static let lowMask: UInt32 = (1 << 30) - 1

        init(_ p: DecodedPacket) {
            switch p.transport {
            case .udp: (kind, high, low) = (.udp, UInt32(p.sourcePort), UInt32(p.ttl))
            // The decoder puts an echo's sequence number where a destination port would be.
            case .icmp, .icmpv6: (kind, high, low) = (.echo, UInt32(p.destinationPort), UInt32(p.ttl))
            default: (kind, high, low) = (.tcp, p.sequenceNumber, unicornKey(p) & Self.lowMask)
            }
        }

        /// Nil for a word that holds no reference yet.
        init?(word: UInt64) {
            guard let kind = Kind(rawValue: word >> 30 & 3) else { return nil }
            (self.kind, high, low) = (
                kind, UInt32(truncatingIfNeeded: word >> 32), UInt32(truncatingIfNeeded: word) & Self.lowMask
            )
        }

        var word: UInt64 { UInt64(high) << 32 | kind.rawValue << 30 | UInt64(low) }
    }

    /// How far a UDP scanner's source port moves between probes: nmap adds the try number (at
    /// most 10 retries), masscan's newer versions use its base port or the base + 16.
    static let sourcePortDrift: UInt32 = 16

    /// nmap's highest initial TTL for raw probes (`tcpip.cc`: 37 + rand mod 23).
    static let nmapMaximumTTL: UInt8 = 59

    /// The per-probe rules, as bits: which of them `packet` (a SYN or other TCP probe, a UDP
    /// datagram, an echo request) satisfies, given the previous examined probe if it was of the
    /// same kind.
    static func marks(of p: DecodedPacket, previous: Reference?) -> Marks {
        guard p.transport == .tcp else { return datagramMarks(of: p, previous: previous) }
        var marks: Marks = []
        let options = p.tcpOptions
        if p.ipVersion == 4 {
            let destination = p.destination.ipv4Value
            if p.ipID == 54321 { marks.insert(.zmapIPID) }
            if p.ipID == (destination ^ UInt32(p.destinationPort) ^ p.sequenceNumber) & 0xFFFF {
                marks.insert(.masscanIPID)
            }
            if p.sequenceNumber == destination { marks.insert(.miraiSequence) }
        }
        if p.window == 512 && options.count == 0 && p.acknowledgementNumber != 0 && !p.tcpFlags.contains(.ack) {
            marks.insert(.hping3)
        }
        if [1024, 2048, 3072, 4096].contains(p.window)
            && (options.count == 0 || (options.count == 1 && options.has(TCPOptionSummary.mss)))
        {
            marks.insert(.nmapShape)
        }
        // A source's first probe has nothing to repeat: it counts as repeating itself.
        let previous = previous ?? Reference(p)
        if p.sequenceNumber == previous.high { marks.insert(.repeatedSequence) }
        if p.window == 4128 && unicornKey(p) & Reference.lowMask == previous.low { marks.insert(.unicornscan) }
        return marks
    }

    /// UDP and echo-request marks: no TCP header, so TTL, source port and echo sequence speak.
    private static func datagramMarks(of p: DecodedPacket, previous: Reference?) -> Marks {
        var marks: Marks = []
        let isEcho = p.transport != .udp
        if p.ipVersion == 4 && p.ipID == 54321 { marks.insert(.zmapIPID) }
        if !isEcho && p.ttl > 128 && p.payloadLength == 0 && p.ipID != 54321 { marks.insert(.masscanIPID) }
        // An echo request's payload length counts its 4 bytes of identifier and sequence.
        let dataless = !isEcho || p.payloadLength <= 4
        let randomTTL = previous.map { UInt32(p.ttl) != $0.low } ?? (p.ttl <= nmapMaximumTTL)
        if dataless && randomTTL { marks.insert(.nmapShape) }
        let reference = (previous ?? Reference(p)).high
        let repeated =
            isEcho
            ? UInt32(p.destinationPort) == reference
            : (UInt32(p.sourcePort) &- reference &+ sourcePortDrift) <= 2 * sourcePortDrift  // within ±drift
        if repeated { marks.insert(.repeatedSequence) }
        return marks
    }

    /// Unicornscan's per-scan constant: sequence ⊕ destination ⊕ ((destination port ≪ 16) + source port).
    static func unicornKey(_ p: DecodedPacket) -> UInt32 {
        let destination = p.destination.isIPv4 ? p.destination.ipv4Value : UInt32(truncatingIfNeeded: p.destination.low)
        return p.sequenceNumber ^ destination ^ ((UInt32(p.destinationPort) << 16) &+ UInt32(p.sourcePort))
    }

    /// The examined-probe count and the seven rule counts as 8-bit lanes of one word (lane 0 the
    /// count): one read-modify-write per examined probe, and at most `sampleSize` (64) per lane.
    static func laneIncrements(_ marks: Marks) -> UInt64 {
        var increments: UInt64 = 1
        for bit in 0..<7 where marks.rawValue & (1 << bit) != 0 { increments |= 1 << (8 * UInt64(bit + 1)) }
        return increments
    }

    static func evidence(fromLanes word: UInt64) -> Evidence {
        func lane(_ i: UInt64) -> Int { Int((word >> (8 * i)) & 0xFF) }
        var e = Evidence()
        e.examined = lane(0)
        e.zmapIPID = lane(1)
        e.masscanIPID = lane(2)
        e.miraiSequence = lane(3)
        e.hping3 = lane(4)
        e.nmapShape = lane(5)
        e.repeatedSequence = lane(6)
        e.unicornscan = lane(7)
        return e
    }

    struct Marks: OptionSet {
        let rawValue: UInt8
        static let zmapIPID = Marks(rawValue: 1 << 0)
        static let masscanIPID = Marks(rawValue: 1 << 1)
        static let miraiSequence = Marks(rawValue: 1 << 2)
        static let hping3 = Marks(rawValue: 1 << 3)
        static let nmapShape = Marks(rawValue: 1 << 4)
        static let repeatedSequence = Marks(rawValue: 1 << 5)
        static let unicornscan = Marks(rawValue: 1 << 6)
    }
}
