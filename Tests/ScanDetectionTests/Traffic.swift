import WireFormat

@testable import ScanDetection

/// Decoded packets for detector tests, built directly (the decoder has its own tests).
enum Traffic {
    static func tcp(
        _ source: IPAddress, _ sourcePort: UInt16, _ destination: IPAddress, _ destinationPort: UInt16,
        _ flags: TCPFlags, at seconds: Double = 0, stackOptions: Bool = false, payload: Int32 = 0
    ) -> DecodedPacket {
        var p = DecodedPacket()
        p.timestamp = Timestamp(nanoseconds: Int64(seconds * 1e9) + 1_700_000_000_000_000_000)
        p.source = source
        p.destination = destination
        p.ipVersion = source.isIPv4 ? 4 : 6
        p.transport = .tcp
        p.ipProtocol = 6
        p.sourcePort = sourcePort
        p.destinationPort = destinationPort
        p.tcpFlags = flags
        p.payloadLength = payload
        if stackOptions {
            p.tcpOptions.kinds = TCPOptionSummary.mss | TCPOptionSummary.sackPermitted | TCPOptionSummary.timestamps
            p.tcpOptions.count = 3
        }
        return p
    }

    static func udp(
        _ source: IPAddress, _ sourcePort: UInt16, _ destination: IPAddress, _ destinationPort: UInt16,
        at seconds: Double = 0
    ) -> DecodedPacket {
        var p = tcp(source, sourcePort, destination, destinationPort, [], at: seconds)
        p.transport = .udp
        p.ipProtocol = 17
        return p
    }

    /// An ICMP port unreachable from `router` quoting a UDP probe `prober` → `target`:`port`.
    static func portUnreachable(
        from router: IPAddress, quoting prober: IPAddress, _ proberPort: UInt16,
        _ target: IPAddress, _ port: UInt16, at seconds: Double = 0
    ) -> DecodedPacket {
        var p = tcp(router, 0, prober, 0, [], at: seconds)
        p.transport = router.isIPv4 ? .icmp : .icmpv6
        p.ipProtocol = router.isIPv4 ? 1 : 58
        p.icmpType = router.isIPv4 ? 3 : 1
        p.icmpCode = router.isIPv4 ? 3 : 4
        p.quoted = QuotedPacket(
            source: prober, destination: target, ipProtocol: 17, sourcePort: proberPort,
            destinationPort: port)
        return p
    }

    static func ping(_ source: IPAddress, _ destination: IPAddress, reply: Bool = false, at seconds: Double = 0)
        -> DecodedPacket
    {
        var p = tcp(source, 0, destination, 0, [], at: seconds)
        p.transport = source.isIPv4 ? .icmp : .icmpv6
        p.ipProtocol = source.isIPv4 ? 1 : 58
        p.icmpType = source.isIPv4 ? (reply ? 0 : 8) : (reply ? 129 : 128)
        return p
    }

    static func time(_ seconds: Double) -> Timestamp {
        Timestamp(nanoseconds: Int64(seconds * 1e9) + 1_700_000_000_000_000_000)
    }

    static func host(_ n: Int) -> IPAddress { IPAddress(ipv4: 0xC612_0000 | UInt32(n)) }  // 198.18.x.y
}
