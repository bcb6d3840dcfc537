public import WireFormat

/// One DShield firewall record: the first packet of an unsolicited inbound flow.
///
/// The fields are those of both submission formats (reference §1.1, §2.2). For ICMP and ICMPv6
/// the type travels in the source-port slot and the code in the destination-port slot, as the
/// official sensor, PSAD and the classic clients all do.
public struct DShieldRecord: Hashable, Sendable {
    /// Packet time, whole seconds since the Unix epoch (UTC); DShield takes no sub-second part.
    public var time: Int64
    public var source: IPAddress
    /// TCP/UDP source port, or the ICMP type.
    public var sourcePort: UInt16
    public var destination: IPAddress
    /// TCP/UDP destination port, or the ICMP code.
    public var destinationPort: UInt16
    /// IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, …).
    public var ipProtocol: UInt8
    /// TCP flags of the flow's first packet; empty for other protocols.
    public var tcpFlags: TCPFlags

    public init(
        time: Int64, source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16,
        ipProtocol: UInt8, tcpFlags: TCPFlags = []
    ) {
        self.time = time
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.ipProtocol = ipProtocol
        self.tcpFlags = ipProtocol == IANAProtocol.tcp ? tcpFlags : []
    }

    /// The record for `packet`, ICMP type and code in the port slots.
    public init(packet: DecodedPacket) {
        let isICMP = packet.transport == .icmp || packet.transport == .icmpv6
        self.init(
            time: Self.seconds(packet.timestamp), source: packet.source,
            sourcePort: isICMP ? UInt16(packet.icmpType) : packet.sourcePort, destination: packet.destination,
            destinationPort: isICMP ? UInt16(packet.icmpCode) : packet.destinationPort,
            ipProtocol: packet.ipProtocol, tcpFlags: packet.tcpFlags)
    }

    /// 4 or 6, from the source address (the official sensor's rule: a `:` in `sip` means 6).
    public var ipVersion: Int { source.isIPv4 ? 4 : 6 }

    /// The flags as DShield writes them: `1` (CWR), `2` (ECE), `U`, `A`, `P`, `R`, `S`, `F`, in
    /// the official sensor's order (`fwlogparser.py` `tcpflagmap`; reference §1.1 on `1`/`2`).
    public var flagLetters: String {
        let order: [(TCPFlags, Character)] = [
            (.cwr, "1"), (.ece, "2"), (.urg, "U"), (.ack, "A"), (.psh, "P"), (.rst, "R"), (.syn, "S"), (.fin, "F"),
        ]
        return String(order.compactMap { tcpFlags.contains($0.0) ? $0.1 : nil })
    }

    /// Whole seconds of `timestamp`, rounded down (also before 1970).
    static func seconds(_ timestamp: Timestamp) -> Int64 {
        let n = timestamp.nanoseconds
        return n >= 0 ? n / 1_000_000_000 : (n - 999_999_999) / 1_000_000_000
    }
}

/// The IANA protocol numbers the DShield code paths name.
public enum IANAProtocol {
    public static let tcp: UInt8 = 6
}
