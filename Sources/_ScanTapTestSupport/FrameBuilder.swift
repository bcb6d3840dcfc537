public import WireFormat

/// Builds wire-format frames for tests and the benchmark's synthetic capture, field by field.
///
/// Checksums are left zero: nothing in ScanTap verifies them (a span port delivers what it
/// delivers, and offloading often leaves them unset in captures anyway).
public struct FrameBuilder: Sendable {
    public enum Link: Sendable {
        /// Ethernet II with the given VLAN tags (TPID, VLAN id), outermost first.
        case ethernet(vlanTags: [(tpid: UInt16, id: UInt16)] = [])
        case linuxCooked
        case linuxCooked2
        case rawIP
        /// BSD loopback with the family in little-endian (as written on x86) or big-endian order.
        case bsdLoopback(bigEndian: Bool)
    }

    public enum Payload: Sendable {
        case tcp(
            sourcePort: UInt16, destinationPort: UInt16, flags: TCPFlags, sequence: UInt32 = 1,
            acknowledgement: UInt32 = 0, window: UInt16 = 1024, options: [UInt8] = [], data: Int = 0)
        case udp(sourcePort: UInt16, destinationPort: UInt16, data: Int = 0)
        /// ICMP or ICMPv6 (by address family) with the given type, code and body.
        case icmp(type: UInt8, code: UInt8, body: [UInt8] = [0, 0, 0, 0])
    }

    public var link: Link
    public var ttl: UInt8 = 64
    public var ipID: UInt16 = 0x1234
    /// IPv6 extension headers to insert before the transport: (next-header value, bytes). The
    /// builder fills in each header's next-header byte.
    public var ipv6ExtensionHeaders: [(type: UInt8, bytes: [UInt8])] = []
    /// IPv4 fragment offset in 8-byte units, and the more-fragments bit.
    public var fragmentOffset: UInt16 = 0
    public var moreFragments = false

    public init(link: Link = .ethernet()) { self.link = link }

    /// The IP packet (no link header) from `source` to `destination` carrying `payload`.
    public func ipPacket(from source: IPAddress, to destination: IPAddress, _ payload: Payload) -> [UInt8] {
        let ipv4 = source.isIPv4
        var transport: [UInt8]
        var proto: UInt8
        switch payload {
        case .tcp(let sp, let dp, let flags, let seq, let ack, let window, let options, let data):
            var opts = options
            while opts.count % 4 != 0 { opts.append(1) }  // pad with NOPs
            transport = be16(sp) + be16(dp) + be32(seq) + be32(ack)
            transport += [UInt8((20 + opts.count) / 4) << 4, flags.rawValue] + be16(window) + [0, 0, 0, 0]
            transport += opts + [UInt8](repeating: 0x61, count: data)
            proto = 6
        case .udp(let sp, let dp, let data):
            transport = be16(sp) + be16(dp) + be16(UInt16(8 + data)) + [0, 0] + [UInt8](repeating: 0x61, count: data)
            proto = 17
        case .icmp(let type, let code, let body):
            transport = [type, code, 0, 0] + body
            proto = ipv4 ? 1 : 58
        }
        if ipv4 {
            let total = 20 + transport.count
            var header: [UInt8] = [0x45, 0] + be16(UInt16(total)) + be16(ipID)
            header += be16((moreFragments ? 0x2000 : 0) | fragmentOffset) + [ttl, proto, 0, 0]
            header += be32(source.ipv4Value) + be32(destination.ipv4Value)
            return header + transport
        }
        var chain: [UInt8] = []
        var firstNext = proto
        for (index, ext) in ipv6ExtensionHeaders.enumerated().reversed() {
            var bytes = ext.bytes
            bytes[0] = index == ipv6ExtensionHeaders.count - 1 ? proto : ipv6ExtensionHeaders[index + 1].type
            chain = bytes + chain
            firstNext = ext.type
        }
        let payloadLength = chain.count + transport.count
        var header: [UInt8] = [0x60, 0, 0, 0] + be16(UInt16(payloadLength)) + [firstNext, ttl]
        header += be64(source.high) + be64(source.low) + be64(destination.high) + be64(destination.low)
        return header + chain + transport
    }

    /// The whole frame: link header plus `ipPacket`.
    public func frame(from source: IPAddress, to destination: IPAddress, _ payload: Payload) -> [UInt8] {
        framed(ipPacket(from: source, to: destination, payload), ipv4: source.isIPv4)
    }

    /// The frames of `ipPacket` sent in fragments of `pieceSize` data bytes each (the last takes
    /// the rest), in datagram order: IPv4 fragments with identification `ipID`, or IPv6 with a
    /// fragment header (identification `ipID`) right after the fixed header, so that any
    /// `ipv6ExtensionHeaders` travel in the fragmentable part. `fragmentOffset` and
    /// `moreFragments` are ignored.
    public func fragmentFrames(
        from source: IPAddress, to destination: IPAddress, _ payload: Payload, pieceSize: Int
    ) -> [[UInt8]] {
        precondition(pieceSize > 0 && pieceSize % 8 == 0, "fragment data comes in 8-byte units")
        let whole = ipPacket(from: source, to: destination, payload)
        let ipv4 = source.isIPv4
        let header = Array(whole[..<(ipv4 ? 20 : 40)])
        let data = Array(whole[header.count...])
        return stride(from: 0, to: data.count, by: pieceSize).map { start in
            let piece = data[start..<min(start + pieceSize, data.count)]
            let more = start + pieceSize < data.count
            var ip = header
            if ipv4 {
                ip.replaceSubrange(2..<4, with: be16(UInt16(20 + piece.count)))  // total length
                ip.replaceSubrange(6..<8, with: be16((more ? 0x2000 : 0) | UInt16(start / 8)))  // MF, offset
            } else {
                ip.replaceSubrange(4..<6, with: be16(UInt16(8 + piece.count)))  // payload length
                let next = ip[6]
                ip[6] = 44  // fragment header
                // Next header, reserved, offset (bytes, a multiple of 8) | M, identification.
                ip += [next, 0] + be16(UInt16(start) | (more ? 1 : 0)) + be32(UInt32(ipID))
            }
            return framed(ip + piece, ipv4: ipv4)
        }
    }

    /// `ip` behind this builder's link header.
    private func framed(_ ip: [UInt8], ipv4: Bool) -> [UInt8] {
        let etherType: UInt16 = ipv4 ? 0x0800 : 0x86DD
        switch link {
        case .ethernet(let tags):
            var header: [UInt8] = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]
            for tag in tags { header += be16(tag.tpid) + be16(tag.id) }
            return header + be16(etherType) + ip
        case .linuxCooked:
            // Packet type (0 = to us), ARPHRD_ETHER, address length, 8 address bytes, protocol.
            return [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + be16(etherType) + ip
        case .linuxCooked2:
            // Protocol, reserved, interface index, ARPHRD_ETHER, packet type, length, address.
            return be16(etherType) + [0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]
                + ip
        case .rawIP:
            return ip
        case .bsdLoopback(let bigEndian):
            let family: UInt32 = ipv4 ? 2 : 24
            let bytes = be32(family)
            return (bigEndian ? bytes : bytes.reversed()) + ip
        }
    }

    /// The libpcap data-link type (`DLT_*`) of frames this builder makes.
    public var dataLinkType: Int32 {
        switch link {
        case .ethernet: 1
        case .linuxCooked: 113
        case .linuxCooked2: 276
        case .rawIP: 12
        case .bsdLoopback: 0
        }
    }
}

func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xFFFF)) }
func be64(_ v: UInt64) -> [UInt8] { be32(UInt32(v >> 32)) + be32(UInt32(v & 0xFFFF_FFFF)) }

/// TCP options as operating systems and scanners send them.
public enum TCPOptionBytes {
    /// MSS 1460 only: nmap -sS, masscan master, zmap 3.x.
    public static let mssOnly: [UInt8] = [2, 4, 0x05, 0xB4]
    /// Linux's SYN: MSS, SACK-permitted, timestamps, NOP, window scale 7.
    public static let linux: [UInt8] = [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]
}
