import Testing
import WireFormat
import _ScanTapTestSupport

private let scanner = IPAddress("198.18.0.3")!
private let victim = IPAddress("198.18.0.10")!
private let scanner6 = IPAddress("2001:db8:0:1::3")!
private let victim6 = IPAddress("2001:db8:0:1::10")!
private let time = Timestamp(seconds: 1_764_000_000)

private func decode(_ frame: [UInt8], _ linkType: LinkType, wireLength: Int? = nil) -> (DecodeResult, DecodedPacket) {
    var packet = DecodedPacket()
    let result = frame.withUnsafeBytes {
        PacketDecoder().decode(
            $0, wireLength: wireLength ?? frame.count, linkType: linkType, timestamp: time, into: &packet)
    }
    return (result, packet)
}

private let syn = FrameBuilder.Payload.tcp(
    sourcePort: 40000, destinationPort: 22, flags: .syn, sequence: 0xDEAD_BEEF, window: 1024,
    options: TCPOptionBytes.mssOnly)

@Suite struct PacketDecoderTests {
    @Test func anEthernetIPv4SYNDecodesEveryField() {
        let (result, p) = decode(FrameBuilder().frame(from: scanner, to: victim, syn), .ethernet)
        #expect(result == .decoded)
        #expect(p.source == scanner && p.destination == victim)
        #expect(p.ipVersion == 4 && p.ttl == 64 && p.ipID == 0x1234)
        #expect(p.transport == .tcp && p.sourcePort == 40000 && p.destinationPort == 22)
        #expect(p.tcpFlags == .syn && p.sequenceNumber == 0xDEAD_BEEF && p.window == 1024)
        #expect(p.tcpOptions.count == 1 && p.tcpOptions.maximumSegmentSize == 1460)
        #expect(p.payloadLength == 0 && p.timestamp == time)
    }

    @Test(arguments: [UInt16(0), 63, 64, 65535])
    func portsAtTheEdgesDecode(port: UInt16) {
        let frame = FrameBuilder().frame(
            from: scanner, to: victim, .tcp(sourcePort: port, destinationPort: port, flags: .syn))
        let (_, p) = decode(frame, .ethernet)
        #expect(p.sourcePort == port && p.destinationPort == port)
    }

    @Test func stackedVLANTagsAreWalked() {
        let tags: [(tpid: UInt16, id: UInt16)] = [(0x88A8, 100), (0x8100, 200)]
        let (result, p) = decode(
            FrameBuilder(link: .ethernet(vlanTags: tags)).frame(from: scanner, to: victim, syn), .ethernet)
        #expect(result == .decoded && p.destinationPort == 22)
    }

    @Test func tooManyVLANTagsAreMalformed() {
        let tags = [(tpid: UInt16, id: UInt16)](repeating: (0x8100, 1), count: PacketDecoder.maximumVLANTags + 1)
        let (result, _) = decode(
            FrameBuilder(link: .ethernet(vlanTags: tags)).frame(from: scanner, to: victim, syn), .ethernet)
        #expect(result == .malformed(.truncatedLinkHeader))
    }

    @Test(arguments: [
        (FrameBuilder.Link.linuxCooked, LinkType.linuxCooked), (.linuxCooked2, .linuxCooked2), (.rawIP, .rawIP),
        (.bsdLoopback(bigEndian: false), .bsdLoopback), (.bsdLoopback(bigEndian: true), .bsdLoopback),
    ])
    func everySupportedLinkTypeDecodesIPv4AndIPv6(link: FrameBuilder.Link, type: LinkType) {
        let builder = FrameBuilder(link: link)
        let (r4, p4) = decode(builder.frame(from: scanner, to: victim, syn), type)
        let (r6, p6) = decode(builder.frame(from: scanner6, to: victim6, syn), type)
        #expect(r4 == .decoded && p4.destinationPort == 22 && p4.ipVersion == 4)
        #expect(r6 == .decoded && p6.destinationPort == 22 && p6.source == scanner6)
    }

    @Test func libpcapLinkTypeValuesMapToFramings() {
        #expect(LinkType(dataLinkType: 1) == .ethernet)
        #expect(LinkType(dataLinkType: 113) == .linuxCooked)
        #expect(LinkType(dataLinkType: 276) == .linuxCooked2)
        #expect(LinkType(dataLinkType: 12) == .rawIP)
        #expect(LinkType(dataLinkType: 0) == .bsdLoopback)
        #expect(LinkType(dataLinkType: 105) == nil)  // 802.11: refused
    }

    @Test func ipv6ExtensionHeadersAreWalkedToTheTransport() {
        var builder = FrameBuilder()
        builder.ipv6ExtensionHeaders = [
            (0, [0, 0, 1, 4, 0, 0, 0, 0]),  // hop-by-hop, PadN
            (60, [0, 1] + [UInt8](repeating: 0, count: 14)),  // destination options, 16 bytes
        ]
        let (result, p) = decode(builder.frame(from: scanner6, to: victim6, syn), .ethernet)
        #expect(result == .decoded && p.transport == .tcp && p.destinationPort == 22 && p.ipProtocol == 6)
    }

    @Test func nonFirstFragmentsCarryNoPorts() {
        var builder = FrameBuilder()
        builder.fragmentOffset = 3
        let (result, p) = decode(builder.frame(from: scanner, to: victim, syn), .ethernet)
        #expect(result == .decoded && p.transport == .fragment && p.destinationPort == 0)
    }

    @Test func anIPv6FragmentHeaderWithAnOffsetIsAFragment() {
        var builder = FrameBuilder()
        builder.ipv6ExtensionHeaders = [(44, [0, 0, 0, 0x10, 0, 0, 0, 7])]  // offset 2, id 7
        let (result, p) = decode(builder.frame(from: scanner6, to: victim6, syn), .ethernet)
        #expect(result == .decoded && p.transport == .fragment && p.ipID == 7)
    }

    @Test func aTinyFirstFragmentIsAFragmentNotGarbage() {
        // nmap -f: the first fragment holds only 8 bytes of the TCP header.
        var builder = FrameBuilder()
        builder.moreFragments = true
        var frame = builder.frame(from: scanner, to: victim, syn)
        frame = Array(frame[0..<(14 + 20 + 8)])
        frame[14 + 2] = 0
        frame[14 + 3] = 28  // total length: 20 + 8
        let (result, p) = decode(frame, .ethernet)
        #expect(result == .decoded && p.transport == .fragment)
    }

    @Test func everyTruncationOfASYNIsRejectedWithoutReadingPastTheEnd() {
        let frame = FrameBuilder().frame(from: scanner6, to: victim6, syn)
        for length in 0..<frame.count {
            let (result, _) = decode(Array(frame[0..<length]), .ethernet, wireLength: frame.count)
            #expect(result != .decoded || length >= 14 + 40 + 20, "length \(length)")
        }
    }

    @Test func aSnaplenThatCutsTheOptionsStillDecodes() {
        let frame = FrameBuilder().frame(
            from: scanner, to: victim,
            .tcp(sourcePort: 1, destinationPort: 2, flags: .syn, options: TCPOptionBytes.linux))
        let (result, p) = decode(Array(frame[0..<(14 + 20 + 24)]), .ethernet, wireLength: frame.count)
        #expect(result == .decoded && p.tcpOptions.maximumSegmentSize == 1460)
        #expect(!p.tcpOptions.has(TCPOptionSummary.windowScale))  // not captured
    }

    @Test func inconsistentIPHeadersAreMalformed() {
        var frame = FrameBuilder().frame(from: scanner, to: victim, syn)
        var badIHL = frame
        badIHL[14] = 0x44
        #expect(decode(badIHL, .ethernet).0 == .malformed(.badIPHeaderLength))
        var longTotal = frame
        longTotal[14 + 2] = 0x05
        longTotal[14 + 3] = 0xDC
        #expect(decode(longTotal, .ethernet).0 == .malformed(.badIPTotalLength))
        frame[14] = 0x55
        #expect(decode(frame, .ethernet).0 == .malformed(.badIPVersion))
    }

    @Test func aTCPDataOffsetPastTheSegmentIsMalformed() {
        var frame = FrameBuilder().frame(
            from: scanner, to: victim, .tcp(sourcePort: 1, destinationPort: 2, flags: .syn))
        frame[14 + 20 + 12] = 0xF0  // 60-byte header in a 20-byte segment
        #expect(decode(frame, .ethernet).0 == .malformed(.badTCPDataOffset))
    }

    @Test func anICMPPortUnreachableQuotesTheProbe() {
        let probe = FrameBuilder().ipPacket(from: scanner, to: victim, .udp(sourcePort: 5555, destinationPort: 161))
        let frame = FrameBuilder().frame(
            from: victim, to: scanner, .icmp(type: 3, code: 3, body: [0, 0, 0, 0] + probe))
        let (result, p) = decode(frame, .ethernet)
        #expect(result == .decoded && p.transport == .icmp && p.icmpType == 3 && p.icmpCode == 3)
        #expect(
            p.quoted
                == QuotedPacket(
                    source: scanner, destination: victim, ipProtocol: 17, sourcePort: 5555, destinationPort: 161))
    }

    @Test func anICMPv6UnreachableQuotesAnIPv6Probe() {
        let probe = FrameBuilder().ipPacket(from: scanner6, to: victim6, syn)
        let frame = FrameBuilder().frame(
            from: victim6, to: scanner6, .icmp(type: 1, code: 4, body: [0, 0, 0, 0] + probe))
        let (_, p) = decode(frame, .ethernet)
        #expect(p.transport == .icmpv6 && p.quoted?.destinationPort == 22 && p.quoted?.source == scanner6)
    }

    @Test func nonIPFramesAreNotIPRatherThanMalformed() {
        var arp = FrameBuilder().frame(from: scanner, to: victim, syn)
        arp[12] = 0x08
        arp[13] = 0x06
        #expect(decode(arp, .ethernet).0 == .notIP)
    }
}

@Suite struct TimestampTests {
    @Test func rfc3339HasMicrosecondsAndAZ() {
        #expect(Timestamp(seconds: 0).rfc3339 == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(nanoseconds: 1_796_398_395_023_119_999).rfc3339 == "2026-12-04T15:33:15.023119Z")
        #expect(Timestamp(seconds: 951_782_400).rfc3339 == "2000-02-29T00:00:00.000000Z")
        #expect(Timestamp(seconds: -1).rfc3339 == "1969-12-31T23:59:59.000000Z")
    }

    @Test func rfc3339TextParsesBackToTheSameInstant() {
        for ns: Int64 in [0, 1_796_398_395_023_119_000, 951_782_400_000_000_000, 1_234_567_890_123_456_000] {
            #expect(Timestamp(rfc3339: Timestamp(nanoseconds: ns).rfc3339) == Timestamp(nanoseconds: ns))
        }
        #expect(Timestamp(rfc3339: "2026-12-04T15:33:15Z") == Timestamp(seconds: 1_796_398_395))
        #expect(Timestamp(rfc3339: "2024-02-29T00:00:00Z") != nil)
        for bad in [
            "", "2026-12-04 15:33:15Z", "2026-13-04T15:33:15Z", "2026-12-04T15:33:15.Z", "2026-12-04T15:33:15+01:00",
            "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "9999-12-31T23:59:59Z", "1000-01-01T00:00:00Z",
        ] {
            #expect(Timestamp(rfc3339: bad) == nil, "\(bad)")
        }
    }
}
