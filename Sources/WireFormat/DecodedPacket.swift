/// The link-layer framings the decoder understands, named after their libpcap `DLT_` values.
public enum LinkType: Sendable, Equatable {
    /// `DLT_EN10MB`: Ethernet II, with any number (up to `PacketDecoder.maximumVLANTags`) of
    /// 802.1Q / 802.1ad tags.
    case ethernet
    /// `DLT_LINUX_SLL`: Linux "cooked" capture v1 (`tcpdump -i any` before libpcap 1.10).
    case linuxCooked
    /// `DLT_LINUX_SLL2`: Linux cooked capture v2.
    case linuxCooked2
    /// `DLT_RAW`, `LINKTYPE_IPV4`, `LINKTYPE_IPV6`: the packet starts at the IP header.
    case rawIP
    /// `DLT_NULL`: BSD loopback, a 4-byte address family in the writer's byte order.
    case bsdLoopback
    /// `DLT_LOOP`: OpenBSD loopback, the address family in network byte order.
    case openBSDLoopback

    /// The framing for a libpcap data-link type, or nil when the decoder cannot read it.
    public init?(dataLinkType: Int32) {
        switch dataLinkType {
        case 1: self = .ethernet
        case 113: self = .linuxCooked
        case 276: self = .linuxCooked2
        // 12 is DLT_RAW on Linux, 14 on OpenBSD; 101 is LINKTYPE_RAW as stored in files;
        // 228/229 are LINKTYPE_IPV4/IPV6.
        case 12, 14, 101, 228, 229: self = .rawIP
        case 0: self = .bsdLoopback
        case 108: self = .openBSDLoopback
        default: return nil
        }
    }
}

/// TCP header flags (RFC 9293 §3.1, plus the ECN bits of RFC 3168).
///
/// The flags are inlinable computed constants, not stored `static let`s: a stored global in
/// another module is reached through an accessor call, and the detector tests flags on every
/// packet.
@frozen
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    @inlinable public static var fin: TCPFlags { TCPFlags(rawValue: 0x01) }
    @inlinable public static var syn: TCPFlags { TCPFlags(rawValue: 0x02) }
    @inlinable public static var rst: TCPFlags { TCPFlags(rawValue: 0x04) }
    @inlinable public static var psh: TCPFlags { TCPFlags(rawValue: 0x08) }
    @inlinable public static var ack: TCPFlags { TCPFlags(rawValue: 0x10) }
    @inlinable public static var urg: TCPFlags { TCPFlags(rawValue: 0x20) }
    @inlinable public static var ece: TCPFlags { TCPFlags(rawValue: 0x40) }
    @inlinable public static var cwr: TCPFlags { TCPFlags(rawValue: 0x80) }
}

/// Which TCP options a segment carried: enough to tell a raw-packet scanner's SYN (no options,
/// or MSS only) from an operating system's (MSS, SACK-permitted, timestamps, window scale).
public struct TCPOptionSummary: Sendable, Hashable {
    /// Bit set of the option kinds present: bit `k` for kind `k` when `k < 32`.
    public var kinds: UInt32 = 0
    /// Number of options other than NOP and end-of-list.
    public var count: UInt8 = 0
    /// The MSS value when present, else 0.
    public var maximumSegmentSize: UInt16 = 0

    public init() {}

    @inlinable public static var mss: UInt32 { 1 << 2 }
    @inlinable public static var windowScale: UInt32 { 1 << 3 }
    @inlinable public static var sackPermitted: UInt32 { 1 << 4 }
    @inlinable public static var timestamps: UInt32 { 1 << 8 }

    @inlinable public func has(_ kind: UInt32) -> Bool { kinds & kind != 0 }
}

/// The transport a decoded packet carries.
public enum Transport: UInt8, Sendable {
    case tcp, udp, icmp, icmpv6
    /// From `PacketDecoder` alone: a non-first IPv4 or IPv6 fragment, or a first fragment too
    /// short to hold its transport header; no ports can be read. `FragmentReassembler` hands on
    /// the reassembled header instead.
    case fragment
    /// Any other IP protocol (GRE, ESP, SCTP…): addresses only.
    case other
}

/// The header fields of one packet, decoded in place from the captured bytes.
///
/// A plain value of fixed size: decoding allocates nothing. Fields that do not apply to the
/// packet's transport are zero.
public struct DecodedPacket: Sendable {
    public var timestamp = Timestamp.zero
    public var source = IPAddress(high: 0, low: 0)
    public var destination = IPAddress(high: 0, low: 0)
    public var ipVersion: UInt8 = 0
    /// IPv4 TTL or IPv6 hop limit.
    public var ttl: UInt8 = 0
    /// IPv4 identification; for IPv6 the fragment header's identification, else 0.
    public var ipID: UInt32 = 0
    public var transport = Transport.other
    /// The IP protocol / final IPv6 next-header value.
    public var ipProtocol: UInt8 = 0
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var tcpFlags = TCPFlags()
    public var sequenceNumber: UInt32 = 0
    public var acknowledgementNumber: UInt32 = 0
    public var window: UInt16 = 0
    public var tcpOptions = TCPOptionSummary()
    /// Transport payload bytes according to the IP and transport headers, whatever the snaplen.
    public var payloadLength: Int32 = 0
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// For ICMP/ICMPv6 errors: the offending packet quoted inside, when readable.
    public var quoted: QuotedPacket? = nil

    public init() {}
}

/// The header of a packet quoted by an ICMP error: who sent it to whom, on which ports.
public struct QuotedPacket: Sendable, Hashable {
    public var source: IPAddress
    public var destination: IPAddress
    public var ipProtocol: UInt8
    public var sourcePort: UInt16
    public var destinationPort: UInt16

    public init(
        source: IPAddress, destination: IPAddress, ipProtocol: UInt8, sourcePort: UInt16, destinationPort: UInt16
    ) {
        self.source = source
        self.destination = destination
        self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }
}
