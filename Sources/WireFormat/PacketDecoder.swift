/// What became of one captured frame.
public enum DecodeResult: Sendable, Equatable {
    /// An IPv4 or IPv6 packet; the `DecodedPacket` holds its fields.
    case decoded
    /// A well-formed frame that carries no IP (ARP, LLDP, spanning tree…): not our business.
    case notIP
    /// A frame whose headers contradict themselves or end before they should.
    case malformed(MalformedReason)
    /// From `FragmentReassembler` only: an IP fragment taken in that completes no transport
    /// header yet, or one of a datagram already handed on. Decoded, with nothing to hand on.
    case fragment
}

/// Why a frame was rejected; each reason is counted separately so an operator can tell a short
/// snaplen from garbage on the wire.
public enum MalformedReason: UInt8, Sendable, CaseIterable {
    case truncatedLinkHeader
    case truncatedIPHeader
    case badIPVersion
    case badIPHeaderLength
    case badIPTotalLength
    case truncatedTransportHeader
    case badTCPDataOffset
    case extensionHeaderChainTooLong
}

/// Zero-copy decoding of link layer → IPv4/IPv6 → TCP/UDP/ICMP/ICMPv6.
///
/// Every header is checked against the captured length once, before any of its fields is read;
/// the reads after a check use unchecked pointer loads, each justified by the check above it.
/// The decoder keeps no state and allocates nothing, so one instance serves any thread.
public struct PacketDecoder: Sendable {
    /// Stacked VLAN tags accepted before giving up: 802.1ad QinQ uses two; more is either a
    /// provider network or crafted nesting meant to burn cycles.
    public static let maximumVLANTags = 4
    /// IPv6 extension headers walked before the packet is declared malformed. Real traffic uses
    /// one or two; RFC 8200 recommends each appear at most once (at most 6 kinds apply).
    public static let maximumExtensionHeaders = 8

    public init() {}

    /// Decodes one captured frame.
    ///
    /// A fragment is decoded alone: a non-first fragment, or a first fragment too short for its
    /// transport header, is a `.fragment` packet. `FragmentReassembler` decodes fragments whole.
    ///
    /// - Parameters:
    ///   - frame: the captured bytes (`caplen` of them).
    ///   - wireLength: the frame's length on the wire (`len`), at least `frame.count`.
    ///   - linkType: the framing of the capture.
    ///   - timestamp: the packet's capture time.
    ///   - packet: overwritten with the decoded fields.
    public func decode(
        _ frame: UnsafeRawBufferPointer, wireLength: Int, linkType: LinkType, timestamp: Timestamp,
        into packet: inout DecodedPacket
    ) -> DecodeResult {
        var fragment = FragmentView()
        return decode(
            frame, wireLength: wireLength, linkType: linkType, timestamp: timestamp, into: &packet,
            fragment: &fragment)
    }

    /// Decodes one captured frame as `decode(_:wireLength:linkType:timestamp:into:)` does, and
    /// describes in `fragment` where the packet's data lies when it is part of a fragmented
    /// datagram (`fragment.start` stays -1 otherwise).
    func decode(
        _ frame: UnsafeRawBufferPointer, wireLength: Int, linkType: LinkType, timestamp: Timestamp,
        into packet: inout DecodedPacket, fragment: inout FragmentView
    ) -> DecodeResult {
        guard let base = frame.baseAddress else { return .malformed(.truncatedLinkHeader) }
        packet = DecodedPacket()
        packet.timestamp = timestamp
        var offset: Int
        var etherType: UInt16
        let captured = frame.count
        switch linkType {
        case .ethernet:
            guard captured >= 14 else { return .malformed(.truncatedLinkHeader) }
            // Safe: 14 bytes are captured.
            etherType = base.be16(12)
            offset = 14
            var tags = 0
            while etherType == 0x8100 || etherType == 0x88A8 || etherType == 0x9100 {
                tags += 1
                guard tags <= Self.maximumVLANTags, captured >= offset + 4 else {
                    return .malformed(.truncatedLinkHeader)
                }
                // Safe: the 4-byte tag at `offset` is captured (checked just above).
                etherType = base.be16(offset + 2)
                offset += 4
            }
        case .linuxCooked:
            guard captured >= 16 else { return .malformed(.truncatedLinkHeader) }
            etherType = base.be16(14)  // Safe: 16 bytes captured.
            offset = 16
        case .linuxCooked2:
            guard captured >= 20 else { return .malformed(.truncatedLinkHeader) }
            etherType = base.be16(0)  // Safe: 20 bytes captured.
            offset = 20
        case .rawIP:
            guard captured >= 1 else { return .malformed(.truncatedLinkHeader) }
            etherType = base.load(fromByteOffset: 0, as: UInt8.self) >> 4 == 6 ? 0x86DD : 0x0800
            offset = 0
        case .bsdLoopback, .openBSDLoopback:
            guard captured >= 4 else { return .malformed(.truncatedLinkHeader) }
            // Safe: 4 bytes captured. DLT_NULL stores the family in the writer's byte order, so
            // accept either order: the families fit in one byte.
            let raw = base.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
            let family =
                linkType == .openBSDLoopback
                ? UInt32(bigEndian: raw)
                : (raw & 0xFFFF_FF00 == 0 ? raw : raw.byteSwapped)
            switch family {
            case 2: etherType = 0x0800
            case 10, 24, 28, 30: etherType = 0x86DD  // AF_INET6 on Linux, BSDs, FreeBSD, Darwin
            default: return .notIP
            }
            offset = 4
        }
        let linkHeaderLength = offset
        let ipWireLength = wireLength - linkHeaderLength
        switch etherType {
        case 0x0800:
            return decodeIPv4(base, offset, captured, ipWireLength, &packet, &fragment)
        case 0x86DD:
            return decodeIPv6(base, offset, captured, ipWireLength, &packet, &fragment)
        default:
            return .notIP
        }
    }

    func decodeIPv4(
        _ base: UnsafeRawPointer, _ ip: Int, _ captured: Int, _ ipWireLength: Int,
        _ packet: inout DecodedPacket, _ fragment: inout FragmentView
    ) -> DecodeResult {
        guard captured >= ip + 20 else { return .malformed(.truncatedIPHeader) }
        // Safe from here to the IHL check: 20 bytes of IP header are captured.
        let versionIHL = base.byte(ip)
        guard versionIHL >> 4 == 4 else { return .malformed(.badIPVersion) }
        let headerLength = Int(versionIHL & 0x0F) * 4
        guard headerLength >= 20 else { return .malformed(.badIPHeaderLength) }
        let totalLength = Int(base.be16(ip + 2))
        // Ethernet pads short frames, so the wire may hold more than totalLength, never less.
        guard totalLength >= headerLength, totalLength <= ipWireLength else {
            return .malformed(.badIPTotalLength)
        }
        guard captured >= ip + headerLength else { return .malformed(.truncatedIPHeader) }
        packet.ipVersion = 4
        packet.ipID = UInt32(base.be16(ip + 4))
        packet.ttl = base.byte(ip + 8)
        packet.ipProtocol = base.byte(ip + 9)
        packet.source = IPAddress(ipv4: base.be32(ip + 12))
        packet.destination = IPAddress(ipv4: base.be32(ip + 16))
        // Bytes of the transport header and payload that exist on the wire and in the capture.
        let transportLength = totalLength - headerLength
        let capturedEnd = min(captured, ip + totalLength)
        let fragmentField = base.be16(ip + 6)
        if fragmentField & 0x3FFF != 0 {
            // More-fragments or an offset: one piece of a larger datagram.
            fragment = FragmentView(
                start: ip + headerLength, capturedEnd: capturedEnd, length: transportLength,
                offset: Int(fragmentField & 0x1FFF) * 8, more: fragmentField & 0x2000 != 0,
                transport: ip + headerLength)
            if fragment.offset != 0 {
                packet.transport = .fragment  // Only the first fragment carries the transport header.
                return .decoded
            }
        }
        return decodeTransport(
            base, ip + headerLength, capturedEnd, transportLength, packet.ipProtocol,
            moreFragments: fragment.more, &packet)
    }

    func decodeIPv6(
        _ base: UnsafeRawPointer, _ ip: Int, _ captured: Int, _ ipWireLength: Int,
        _ packet: inout DecodedPacket, _ fragment: inout FragmentView
    ) -> DecodeResult {
        guard captured >= ip + 40 else { return .malformed(.truncatedIPHeader) }
        // Safe: the 40-byte fixed header is captured.
        guard base.byte(ip) >> 4 == 6 else { return .malformed(.badIPVersion) }
        let payloadLength = Int(base.be16(ip + 4))
        // A zero payload length with a jumbogram option (RFC 2675) is not expected on a span
        // port with an Ethernet MTU; it is rejected rather than trusted.
        guard 40 + payloadLength <= ipWireLength else { return .malformed(.badIPTotalLength) }
        packet.ipVersion = 6
        packet.ttl = base.byte(ip + 7)
        packet.source = IPAddress(high: base.be64(ip + 8), low: base.be64(ip + 16))
        packet.destination = IPAddress(high: base.be64(ip + 24), low: base.be64(ip + 32))
        let end = ip + 40 + payloadLength
        let capturedEnd = min(captured, end)
        var next = base.byte(ip + 6)
        var offset = ip + 40
        for _ in 0...Self.maximumExtensionHeaders {
            switch next {
            case 0, 43, 60, 135, 139, 140:
                // Hop-by-hop, routing, destination options, mobility, HIP, shim6: (len+1)*8 bytes.
                guard capturedEnd >= offset + 2 else { return .malformed(.truncatedTransportHeader) }
                let length = (Int(base.byte(offset + 1)) + 1) * 8
                next = base.byte(offset)
                offset += length
            case 51:
                // Authentication header: its length counts 4-byte units, minus 2.
                guard capturedEnd >= offset + 2 else { return .malformed(.truncatedTransportHeader) }
                let length = (Int(base.byte(offset + 1)) + 2) * 4
                next = base.byte(offset)
                offset += length
            case 44:
                guard capturedEnd >= offset + 8 else { return .malformed(.truncatedTransportHeader) }
                // Safe: the 8-byte fragment header is captured.
                next = base.byte(offset)
                let fragmentField = base.be16(offset + 2)
                packet.ipID = base.be32(offset + 4)
                offset += 8
                // An offset or the M flag: one piece of a larger datagram. Offset 0 without M is
                // an atomic fragment, a whole datagram (RFC 6946).
                if fragmentField & 0xFFF9 != 0 {
                    fragment = FragmentView(
                        start: offset, capturedEnd: capturedEnd, length: end - offset,
                        offset: Int(fragmentField & 0xFFF8), more: fragmentField & 1 != 0)
                    if fragment.offset != 0 {
                        packet.ipProtocol = next
                        packet.transport = .fragment
                        return .decoded
                    }
                }
            default:
                guard offset <= end else { return .malformed(.badIPTotalLength) }
                packet.ipProtocol = next
                // Read only when this is a first fragment: where its chain of headers ended.
                fragment.transport = offset
                return decodeTransport(
                    base, offset, capturedEnd, end - offset, next, moreFragments: fragment.more,
                    &packet)
            }
        }
        return .malformed(.extensionHeaderChainTooLong)
    }

    /// Reads the transport header at `offset`.
    ///
    /// - Parameters:
    ///   - capturedEnd: one past the last byte that is both captured and inside the IP packet.
    ///   - transportLength: transport header plus payload length, from the IP header.
    ///   - moreFragments: a first fragment whose transport header may continue in the next one.
    func decodeTransport(
        _ base: UnsafeRawPointer, _ offset: Int, _ capturedEnd: Int, _ transportLength: Int,
        _ proto: UInt8, moreFragments: Bool, _ packet: inout DecodedPacket
    ) -> DecodeResult {
        let available = capturedEnd - offset
        // A fragment cut short inside the transport header (nmap -f) is a fragment, not garbage.
        func short() -> DecodeResult {
            if moreFragments && transportLength < 20 {
                packet.transport = .fragment
                return .decoded
            }
            return .malformed(.truncatedTransportHeader)
        }
        switch proto {
        case 6:
            guard available >= 20, transportLength >= 20 else { return short() }
            // Safe: the 20-byte fixed TCP header is captured.
            packet.transport = .tcp
            packet.sourcePort = base.be16(offset)
            packet.destinationPort = base.be16(offset + 2)
            packet.sequenceNumber = base.be32(offset + 4)
            packet.acknowledgementNumber = base.be32(offset + 8)
            let dataOffset = Int(base.byte(offset + 12) >> 4) * 4
            packet.tcpFlags = TCPFlags(rawValue: base.byte(offset + 13))
            packet.window = base.be16(offset + 14)
            guard dataOffset >= 20, dataOffset <= transportLength else {
                return .malformed(.badTCPDataOffset)
            }
            packet.payloadLength = Int32(transportLength - dataOffset)
            // Options may be cut by the snaplen: read only what was captured.
            packet.tcpOptions = Self.summarizeOptions(
                base, from: offset + 20, to: min(offset + dataOffset, capturedEnd))
        case 17:
            guard available >= 8, transportLength >= 8 else { return short() }
            // Safe: the 8-byte UDP header is captured.
            packet.transport = .udp
            packet.sourcePort = base.be16(offset)
            packet.destinationPort = base.be16(offset + 2)
            packet.payloadLength = Int32(transportLength - 8)
        case 1, 58:
            guard available >= 4, transportLength >= 4 else { return short() }
            // Safe: type, code and checksum are captured.
            packet.transport = proto == 1 ? .icmp : .icmpv6
            packet.icmpType = base.byte(offset)
            packet.icmpCode = base.byte(offset + 1)
            packet.payloadLength = Int32(transportLength - 4)
            if Self.isICMPError(proto, packet.icmpType) && available >= 8 {
                packet.quoted = Self.decodeQuoted(base, offset + 8, capturedEnd)
            } else if available >= 8 {
                // Echo identifier and sequence stand where ports would: sweeps reuse them.
                packet.sourcePort = base.be16(offset + 4)
                packet.destinationPort = base.be16(offset + 6)
            }
        default:
            packet.transport = .other
            packet.payloadLength = Int32(transportLength)
        }
        return .decoded
    }

    /// Whether an ICMP (`proto` 1) or ICMPv6 (58) message of this type is an error that quotes
    /// the packet it is about: unreachable, time exceeded, parameter problem (ICMPv6: below 128).
    static func isICMPError(_ proto: UInt8, _ type: UInt8) -> Bool {
        proto == 1 ? (type == 3 || type == 11 || type == 12) : type < 128
    }

    /// Decodes the packet an ICMP error quotes: its IP header and the first 8 bytes after it
    /// (all RFC 792 promises), enough for addresses and ports. Nil when too little is quoted.
    static func decodeQuoted(_ base: UnsafeRawPointer, _ ip: Int, _ end: Int) -> QuotedPacket? {
        guard end >= ip + 1 else { return nil }
        let version = base.byte(ip) >> 4
        var proto: UInt8
        var source: IPAddress
        var destination: IPAddress
        var transport: Int
        if version == 4 {
            guard end >= ip + 20 else { return nil }
            let headerLength = Int(base.byte(ip) & 0x0F) * 4
            guard headerLength >= 20 else { return nil }
            proto = base.byte(ip + 9)
            source = IPAddress(ipv4: base.be32(ip + 12))
            destination = IPAddress(ipv4: base.be32(ip + 16))
            transport = ip + headerLength
        } else if version == 6 {
            guard end >= ip + 40 else { return nil }
            proto = base.byte(ip + 6)
            source = IPAddress(high: base.be64(ip + 8), low: base.be64(ip + 16))
            destination = IPAddress(high: base.be64(ip + 24), low: base.be64(ip + 32))
            transport = ip + 40
        } else {
            return nil
        }
        var quoted = QuotedPacket(
            source: source, destination: destination, ipProtocol: proto, sourcePort: 0,
            destinationPort: 0)
        if (proto == 6 || proto == 17) && end >= transport + 4 {
            quoted.sourcePort = base.be16(transport)
            quoted.destinationPort = base.be16(transport + 2)
        }
        return quoted
    }

    /// Walks TCP options between `start` and `end`; stops at end-of-list or a malformed length.
    static func summarizeOptions(_ base: UnsafeRawPointer, from start: Int, to end: Int)
        -> TCPOptionSummary
    {
        var summary = TCPOptionSummary()
        var offset = start
        while offset < end {
            let kind = base.byte(offset)
            if kind == 0 { break }
            if kind == 1 {
                offset += 1
                continue
            }
            guard offset + 1 < end else { break }
            let length = Int(base.byte(offset + 1))
            guard length >= 2, offset + length <= end else { break }
            if kind < 32 { summary.kinds |= 1 << UInt32(kind) }
            summary.count &+= 1
            if kind == 2 && length == 4 { summary.maximumSegmentSize = base.be16(offset + 2) }
            offset += length
        }
        return summary
    }
}

/// Where a fragment's data lies in its frame and in its datagram: what the decoder tells the
/// reassembler about a packet that is one piece of a larger datagram.
struct FragmentView {
    /// Frame offset of the fragment's data: after the IPv4 header, or after the IPv6 fragment
    /// header. -1 when the packet is no fragment.
    var start = -1
    /// One past the fragment's last data byte that is captured.
    var capturedEnd = 0
    /// The fragment's data bytes on the wire.
    var length = 0
    /// The data's byte offset in the datagram's fragmentable part.
    var offset = 0
    /// More fragments follow (the IPv4 MF flag, the IPv6 M flag).
    var more = false
    /// In a first fragment, the frame offset where its transport header starts: after the IPv4
    /// header, or after the IPv6 extension headers that follow the fragment header. -1 while
    /// unknown (an IPv6 chain the decoder could not walk).
    var transport = -1
}

extension UnsafeRawPointer {
    // Unchecked big-endian reads. Callers check bounds once per header and say so.
    @inline(__always)
    func byte(_ offset: Int) -> UInt8 { load(fromByteOffset: offset, as: UInt8.self) }
    @inline(__always)
    func be16(_ offset: Int) -> UInt16 { UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    @inline(__always)
    func be32(_ offset: Int) -> UInt32 { UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    @inline(__always)
    func be64(_ offset: Int) -> UInt64 { UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
}
