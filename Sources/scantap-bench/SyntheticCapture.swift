import PacketCapture
import WireFormat
import _ScanTapTestSupport

/// The benchmark's input: a savefile of mostly SYN probes from many sources, interleaved in
/// random order, with about 10 % ordinary two-way TCP traffic. Deterministic for a seed.
struct SyntheticCapture {
    var packets = 10_000_000
    var sources = 100_000
    /// Bytes kept per packet, like a sensor's snaplen.
    var snapshotLength = 128
    var seed: UInt64 = 0x5CA7_7A9

    /// Share of packets that belong to ordinary connections.
    static let benignShare = 0.10
    /// Packets in one ordinary connection (below).
    static let packetsPerConnection = 8

    func write(to path: String) throws(CaptureError) {
        let writer = try SavefileWriter(path: path, dataLinkType: 1, snapshotLength: Int32(snapshotLength))
        var random = SplitMix64(seed: seed)
        let builder = FrameBuilder()
        let scanner0 = IPAddress("11.0.0.0")!.ipv4Value
        let target0 = IPAddress("198.18.0.0")!.ipv4Value
        let client0 = IPAddress("198.19.0.0")!.ipv4Value
        let server0 = IPAddress("203.0.113.0")!.ipv4Value

        // A template SYN; per packet only addresses, ports and sequence are patched in place.
        var syn = builder.frame(
            from: IPAddress(ipv4: scanner0), to: IPAddress(ipv4: target0),
            .tcp(sourcePort: 40000, destinationPort: 1, flags: .syn, window: 1024, options: TCPOptionBytes.mssOnly))
        // One ordinary connection: handshake, a request, two full-size data segments, ACKs, FIN.
        func connection(_ client: IPAddress, _ server: IPAddress, _ port: UInt16) -> [[UInt8]] {
            let c = UInt16(49152 + Int(port) % 1000)
            return [
                builder.frame(
                    from: client, to: server,
                    .tcp(sourcePort: c, destinationPort: 443, flags: .syn, options: TCPOptionBytes.linux)),
                builder.frame(
                    from: server, to: client,
                    .tcp(sourcePort: 443, destinationPort: c, flags: [.syn, .ack], options: TCPOptionBytes.linux)),
                builder.frame(from: client, to: server, .tcp(sourcePort: c, destinationPort: 443, flags: .ack)),
                builder.frame(
                    from: client, to: server, .tcp(sourcePort: c, destinationPort: 443, flags: [.psh, .ack], data: 517)),
                builder.frame(
                    from: server, to: client, .tcp(sourcePort: 443, destinationPort: c, flags: .ack, data: 1448)),
                builder.frame(
                    from: server, to: client,
                    .tcp(sourcePort: 443, destinationPort: c, flags: [.psh, .ack], data: 1448)),
                builder.frame(from: client, to: server, .tcp(sourcePort: c, destinationPort: 443, flags: .ack)),
                builder.frame(
                    from: client, to: server, .tcp(sourcePort: c, destinationPort: 443, flags: [.fin, .ack])),
            ]
        }
        var nanoseconds: Int64 = 1_764_000_000_000_000_000
        var written = 0
        let connectionChance = UInt64(Double(UInt64.max) * Self.benignShare / Double(Self.packetsPerConnection))
        while written < packets {
            if random.next() < connectionChance {
                let client = IPAddress(ipv4: client0 + UInt32(random.next() % 1000))
                let server = IPAddress(ipv4: server0 + UInt32(random.next() % 100))
                for frame in connection(client, server, UInt16(truncatingIfNeeded: random.next()))
                where written < packets {
                    nanoseconds += 1000
                    writer.write(frame, timestamp: Timestamp(nanoseconds: nanoseconds), snapshotLength: snapshotLength)
                    written += 1
                }
                continue
            }
            let r = random.next()
            let source = scanner0 + UInt32(r % UInt64(sources))
            let target = target0 + UInt32((r >> 20) & 0xFFFF)
            let port = UInt16(truncatingIfNeeded: r >> 40) | 1
            patch32(&syn, 14 + 12, source)
            patch32(&syn, 14 + 16, target)
            syn[14 + 20 + 2] = UInt8(port >> 8)
            syn[14 + 20 + 3] = UInt8(port & 0xFF)
            patch32(&syn, 14 + 20 + 4, UInt32(truncatingIfNeeded: r))
            nanoseconds += 1000
            writer.write(syn, timestamp: Timestamp(nanoseconds: nanoseconds), snapshotLength: snapshotLength)
            written += 1
        }
    }

    private func patch32(_ frame: inout [UInt8], _ offset: Int, _ value: UInt32) {
        frame[offset] = UInt8(value >> 24)
        frame[offset + 1] = UInt8((value >> 16) & 0xFF)
        frame[offset + 2] = UInt8((value >> 8) & 0xFF)
        frame[offset + 3] = UInt8(value & 0xFF)
    }
}

/// A small, fast, seedable generator (Steele et al.'s SplitMix64): the capture is the same on
/// every machine for the same seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
