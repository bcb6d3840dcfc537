import Testing
import WireFormat
import _ScanTapTestSupport

private let scanner = IPAddress("198.18.0.3")!
private let victim = IPAddress("198.18.0.2")!
private let scanner6 = IPAddress("2001:db8:0:1::3")!
private let victim6 = IPAddress("2001:db8:0:1::2")!
private let start = Timestamp(seconds: 1_764_000_000)

/// nmap -sS's probe: MSS-only options, window 1024.
private let nmapSYN = FrameBuilder.Payload.tcp(
    sourcePort: 64412, destinationPort: 443, flags: .syn, sequence: 591_557_738, window: 1024,
    options: TCPOptionBytes.mssOnly)
/// Linux's SYN: a 40-byte header, so a 24-byte first fragment ends inside its options.
private let linuxSYN = FrameBuilder.Payload.tcp(
    sourcePort: 40000, destinationPort: 22, flags: .syn, sequence: 7, window: 64240, options: TCPOptionBytes.linux)

/// nmap -f as the lab recorded it: TTL 51, a random IP ID, and the given split.
private func nmapBuilder(id: UInt16 = 0x1860) -> FrameBuilder {
    var builder = FrameBuilder()
    builder.ttl = 51
    builder.ipID = id
    return builder
}

private func feed(
    _ reassembler: FragmentReassembler, _ frame: [UInt8], at time: Timestamp = start, wireLength: Int? = nil
) -> (DecodeResult, DecodedPacket) {
    var packet = DecodedPacket()
    let result = frame.withUnsafeBytes {
        reassembler.decode(
            $0, wireLength: wireLength ?? frame.count, linkType: .ethernet, timestamp: time, into: &packet)
    }
    return (result, packet)
}

/// What the stateless decoder makes of the datagram sent whole.
private func whole(
    _ builder: FrameBuilder, _ source: IPAddress, _ destination: IPAddress, _ payload: FrameBuilder.Payload
) -> DecodedPacket {
    var packet = DecodedPacket()
    let frame = builder.frame(from: source, to: destination, payload)
    let result = frame.withUnsafeBytes {
        PacketDecoder().decode($0, wireLength: frame.count, linkType: .ethernet, timestamp: start, into: &packet)
    }
    #expect(result == .decoded)
    return packet
}

/// Every field the detector may read except the time, as one comparable line.
private func header(_ p: DecodedPacket) -> String {
    "\(p.source)>\(p.destination) v\(p.ipVersion) ttl \(p.ttl) id \(p.ipID) \(p.transport) proto \(p.ipProtocol) "
        + "\(p.sourcePort)>\(p.destinationPort) flags \(p.tcpFlags.rawValue) seq \(p.sequenceNumber) ack \(p.acknowledgementNumber) "
        + "win \(p.window) opts \(p.tcpOptions) payload \(p.payloadLength) icmp \(p.icmpType)/\(p.icmpCode) quoted \(String(describing: p.quoted))"
}

/// Feeds `frames` one microsecond apart; returns each result and the packets handed on.
private func feedAll(_ reassembler: FragmentReassembler, _ frames: [[UInt8]]) -> (
    results: [DecodeResult], handedOn: [DecodedPacket]
) {
    var results: [DecodeResult] = []
    var handedOn: [DecodedPacket] = []
    for (index, frame) in frames.enumerated() {
        let (result, packet) = feed(reassembler, frame, at: start + .microseconds(index))
        results.append(result)
        if result == .decoded { handedOn.append(packet) }
    }
    return (results, handedOn)
}

@Suite struct FragmentReassemblerTests {
    @Test func eightByteFragmentsOfASYNReassembleIntoTheSYNAsIfItHadArrivedWhole() throws {
        let builder = nmapBuilder()
        let frames = builder.fragmentFrames(from: scanner, to: victim, nmapSYN, pieceSize: 8)
        #expect(frames.count == 3)  // ports and sequence; flags and window; checksum and MSS
        let reassembler = FragmentReassembler()
        let (results, handedOn) = feedAll(reassembler, frames)
        #expect(results == [.fragment, .fragment, .decoded])
        let p = try #require(handedOn.first)
        #expect(p.transport == .tcp && p.tcpFlags == .syn && p.sourcePort == 64412 && p.destinationPort == 443)
        #expect(p.window == 1024 && p.tcpOptions.count == 1 && p.tcpOptions.maximumSegmentSize == 1460)
        #expect(p.ttl == 51 && p.ipID == 0x1860 && p.payloadLength == 0)
        #expect(p.timestamp == start)  // the first fragment's time: when the probe was sent
        #expect(header(p) == header(whole(builder, scanner, victim, nmapSYN)))
        #expect(reassembler.reassembled == 1 && reassembler.overlapping == 0)
    }

    @Test(arguments: [(8, false), (16, false), (8, true), (16, true), (24, true)])
    func everySplitOfASYNGivesTheWholeSYNsFields(pieceSize: Int, linux: Bool) {
        // A 24-byte first fragment of Linux's SYN holds the fixed header but ends in the options:
        // alone, the decoder finds the data offset past the fragment's end.
        let payload = linux ? linuxSYN : nmapSYN
        let frames = nmapBuilder().fragmentFrames(from: scanner, to: victim, payload, pieceSize: pieceSize)
        let (results, handedOn) = feedAll(FragmentReassembler(), frames)
        #expect(results.last == .decoded && handedOn.count == 1)
        #expect(handedOn.map(header) == [header(whole(nmapBuilder(), scanner, victim, payload))])
    }

    @Test func fragmentsInAnyOrderReassembleOnceWithTheFirstFragmentsTime() {
        let frames = nmapBuilder().fragmentFrames(from: scanner, to: victim, nmapSYN, pieceSize: 8)
        let expected = header(whole(nmapBuilder(), scanner, victim, nmapSYN))
        for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
            let (results, handedOn) = feedAll(FragmentReassembler(), order.map { frames[$0] })
            #expect(results.last == .decoded && handedOn.count == 1, "order \(order)")
            #expect(handedOn.first.map(header) == expected, "order \(order)")
            // feedAll spaces the frames a microsecond apart; offset 0 went in at its position.
            #expect(handedOn.first?.timestamp == start + .microseconds(order.firstIndex(of: 0)!), "order \(order)")
        }
    }

    @Test func ipv6FragmentHeadersReassembleTooKeyedByTheirIdentification() throws {
        var builder = FrameBuilder()
        builder.ipID = 0xBEEF
        let frames = builder.fragmentFrames(from: scanner6, to: victim6, nmapSYN, pieceSize: 8)
        let (results, handedOn) = feedAll(FragmentReassembler(), frames.reversed())
        #expect(results == [.fragment, .fragment, .decoded])
        let p = try #require(handedOn.first)
        #expect(
            p.ipVersion == 6 && p.ipID == 0xBEEF && p.ipProtocol == 6 && p.tcpFlags == .syn && p.destinationPort == 443)
        #expect(p.tcpOptions.maximumSegmentSize == 1460 && p.payloadLength == 0)
    }

    @Test func anIPv6DestinationOptionsHeaderAfterTheFragmentHeaderIsSkipped() {
        var builder = FrameBuilder()
        builder.ipv6ExtensionHeaders = [(60, [0, 1] + [UInt8](repeating: 0, count: 14))]  // 16 bytes, PadN
        let frames = builder.fragmentFrames(from: scanner6, to: victim6, nmapSYN, pieceSize: 16)
        // The first fragment holds the options header alone (the whole chain, as RFC 7112
        // requires of it): the TCP header starts in the second.
        #expect(frames.count == 3)
        let (_, handedOn) = feedAll(FragmentReassembler(), frames)
        #expect(handedOn.count == 1 && handedOn.first?.transport == .tcp && handedOn.first?.destinationPort == 443)
        #expect(handedOn.first?.tcpFlags == .syn && handedOn.first?.window == 1024)
    }

    @Test func anAtomicIPv6FragmentAndWholeDatagramsPassStraightThrough() {
        var atomic = FrameBuilder()
        atomic.ipv6ExtensionHeaders = [(44, [0, 0, 0, 0, 0, 0, 0, 9])]  // offset 0, M clear (RFC 6946)
        let reassembler = FragmentReassembler()
        let (r6, p6) = feed(reassembler, atomic.frame(from: scanner6, to: victim6, nmapSYN))
        #expect(r6 == .decoded && p6.tcpFlags == .syn && p6.ipID == 9)
        let (r4, p4) = feed(reassembler, FrameBuilder().frame(from: scanner, to: victim, nmapSYN))
        #expect(r4 == .decoded && header(p4) == header(whole(FrameBuilder(), scanner, victim, nmapSYN)))
        #expect(reassembler.reassembled == 0)
    }

    @Test func aDatagramsLaterFragmentsAreNotDecodedTwice() {
        let frames = nmapBuilder().fragmentFrames(from: scanner, to: victim, nmapSYN, pieceSize: 8)
        let reassembler = FragmentReassembler()
        let (_, handedOn) = feedAll(reassembler, frames + frames + [frames[0]])
        #expect(handedOn.count == 1 && reassembler.reassembled == 1)
    }

    @Test func aFirstFragmentHoldingTheWholeHeaderIsHandedOnAtOnceAndTheRestIgnored() {
        // A large UDP datagram: its first fragment carries the header, the rest carry payload.
        let frames = FrameBuilder().fragmentFrames(
            from: scanner, to: victim, .udp(sourcePort: 5353, destinationPort: 53, data: 3000), pieceSize: 1480)
        let (results, handedOn) = feedAll(FragmentReassembler(), frames)
        #expect(results == [.decoded, .fragment, .fragment])
        // The datagram's length is not known yet: the payload counts what the first fragment holds.
        #expect(
            handedOn.first?.transport == .udp && handedOn.first?.destinationPort == 53
                && handedOn.first?.payloadLength == 1480 - 8)
    }

    @Test func thePayloadLengthIsTheWholeDatagramsOnceItsLastFragmentIsSeen() {
        let frames = FrameBuilder().fragmentFrames(
            from: scanner, to: victim, .udp(sourcePort: 5353, destinationPort: 53, data: 3000), pieceSize: 1480)
        let (_, handedOn) = feedAll(FragmentReassembler(), [frames[2], frames[0]])
        #expect(handedOn.first?.payloadLength == 3000)
    }

    @Test func anICMPErrorWaitsForItsQuoteAndAnEchoRequestDoesNot() {
        let probe = FrameBuilder().ipPacket(from: scanner, to: victim, .udp(sourcePort: 5555, destinationPort: 161))
        let unreachable = FrameBuilder().fragmentFrames(
            from: victim, to: scanner, .icmp(type: 3, code: 3, body: [0, 0, 0, 0] + probe), pieceSize: 8)
        let (errorResults, errors) = feedAll(FragmentReassembler(), unreachable)
        #expect(errorResults.last == .decoded && errors.count == 1)
        #expect(
            errors.first?.quoted
                == QuotedPacket(
                    source: scanner, destination: victim, ipProtocol: 17, sourcePort: 5555, destinationPort: 161))

        let echo = FrameBuilder().fragmentFrames(
            from: scanner, to: victim,
            .icmp(type: 8, code: 0, body: [0x12, 0x34, 0, 1] + [UInt8](repeating: 0, count: 56)), pieceSize: 8)
        let (echoResults, echoes) = feedAll(FragmentReassembler(), echo)
        #expect(echoResults.first == .decoded && echoes.count == 1)
        #expect(echoes.first?.icmpType == 8 && echoes.first?.sourcePort == 0x1234 && echoes.first?.destinationPort == 1)
    }

    @Test func aFragmentCutBySnaplenInsideTheOptionsStillDecodesWhatWasCaptured() {
        // 16-byte pieces of Linux's SYN: options in the second and third fragments. The second
        // is captured up to 4 bytes of its data: the MSS is in, the rest of the options are not.
        let frames = nmapBuilder().fragmentFrames(from: scanner, to: victim, linuxSYN, pieceSize: 16)
        let reassembler = FragmentReassembler()
        _ = feed(reassembler, frames[0])
        let cut = Array(frames[1][..<(14 + 20 + 8)])
        #expect(feed(reassembler, cut, wireLength: frames[1].count).0 == .fragment)
        let (result, p) = feed(reassembler, frames[2])
        #expect(result == .decoded && p.tcpFlags == .syn && p.destinationPort == 22)
        #expect(p.tcpOptions.maximumSegmentSize == 1460 && !p.tcpOptions.has(TCPOptionSummary.windowScale))
    }

    @Test func aFragmentCutBySnaplenInsideTheFixedHeaderIsTruncatedNotGuessed() {
        let frames = nmapBuilder().fragmentFrames(from: scanner, to: victim, nmapSYN, pieceSize: 8)
        let reassembler = FragmentReassembler()
        _ = feed(reassembler, frames[0])
        _ = feed(reassembler, Array(frames[1][..<(14 + 20 + 4)]), wireLength: frames[1].count)  // flags lost
        #expect(feed(reassembler, frames[2]).0 == .malformed(.truncatedTransportHeader))
        #expect(reassembler.reassembled == 1)
    }

    @Test func everyTruncationOfEveryFragmentIsReadSafelyAndNeverMisread() {
        let frames = nmapBuilder().fragmentFrames(from: scanner, to: victim, linuxSYN, pieceSize: 8)
        for cutFragment in frames.indices {
            for length in 0..<frames[cutFragment].count {
                let reassembler = FragmentReassembler()
                for (index, frame) in frames.enumerated() {
                    let captured = index == cutFragment ? Array(frame[..<length]) : frame
                    let (result, p) = feed(reassembler, captured, wireLength: frame.count)
                    if result == .decoded {
                        #expect(
                            p.destinationPort == 22 && p.tcpFlags == .syn, "fragment \(cutFragment) cut at \(length)")
                    }
                }
            }
        }
    }

    @Test func aFullBucketEvictsItsOldestDatagram() {
        let reassembler = FragmentReassembler(capacity: 8)  // one bucket
        let datagrams = (0..<9).map {
            nmapBuilder(id: UInt16(100 + $0)).fragmentFrames(from: scanner, to: victim, nmapSYN, pieceSize: 8)
        }
        for (index, frames) in datagrams.enumerated() {
            #expect(feed(reassembler, frames[0], at: start + .milliseconds(index)).0 == .fragment)
        }
        #expect(reassembler.evicted == 1)
        // The oldest lost its first fragment: its remaining two complete nothing.
        #expect(feedAll(reassembler, Array(datagrams[0][1...])).handedOn.isEmpty)
        // The newest is intact.
        #expect(feedAll(reassembler, Array(datagrams[8][1...])).handedOn.count == 1)
    }

    @Test func aFloodOfFragmentsEvictsAndNeverHoldsMoreThanTheCapacity() {
        let reassembler = FragmentReassembler()
        var builder = nmapBuilder()
        let flood = 10 * reassembler.capacity
        var datagrams: [[[UInt8]]] = []
        for n in 0..<flood {
            builder.ipID = UInt16(truncatingIfNeeded: n)
            let source = IPAddress(ipv4: 0xC612_0100 &+ UInt32(n >> 16))
            let frames = builder.fragmentFrames(from: source, to: victim, nmapSYN, pieceSize: 8)
            if n == 0 || n == flood - 1 { datagrams.append(frames) }
            _ = feed(reassembler, frames[0], at: start + .microseconds(n))
        }
        #expect(reassembler.evicted == flood - reassembler.capacity)
        // The first datagram was pushed out; the last one is still held and completes.
        #expect(feedAll(reassembler, Array(datagrams[0][1...])).handedOn.isEmpty)
        #expect(feedAll(reassembler, Array(datagrams[1][1...])).handedOn.count == 1)
    }

    @Test func aMirroredCopyIsNoOverlapAndAReusedIdentificationStartsANewDatagram() {
        let frames = nmapBuilder().fragmentFrames(from: scanner, to: victim, nmapSYN, pieceSize: 8)
        let reassembler = FragmentReassembler()
        // A span port delivering every fragment twice.
        let (_, handedOn) = feedAll(reassembler, [frames[0], frames[0], frames[1], frames[1], frames[2], frames[2]])
        #expect(handedOn.count == 1 && reassembler.overlapping == 0)
        // The same scanner keeps its IP ID for the next probe, to another port: decoded too.
        let next = nmapBuilder().fragmentFrames(
            from: scanner, to: victim,
            .tcp(
                sourcePort: 64412, destinationPort: 8443, flags: .syn, sequence: 591_557_738, window: 1024,
                options: TCPOptionBytes.mssOnly),
            pieceSize: 8)
        let again = feedAll(reassembler, next).handedOn
        #expect(again.count == 1 && again.first?.destinationPort == 8443)
    }

    @Test func aDatagramIsForgottenAfterTheTimeoutInPacketTime() {
        let frames = nmapBuilder().fragmentFrames(from: scanner, to: victim, nmapSYN, pieceSize: 8)
        let late = FragmentReassembler()
        _ = feed(late, frames[0], at: start)
        #expect(feed(late, frames[1], at: start + .seconds(31)).0 == .fragment)
        #expect(feed(late, frames[2], at: start + .seconds(31)).0 == .fragment)
        #expect(late.timedOut == 1 && late.reassembled == 0)

        let slow = FragmentReassembler()
        _ = feed(slow, frames[0], at: start)
        _ = feed(slow, frames[1], at: start + .seconds(29))
        #expect(feed(slow, frames[2], at: start + .seconds(29)).0 == .decoded)
    }

    @Test func overlappingFragmentsAreCountedAndTheFirstCopyWins() {
        // Two versions of the flags: a FIN sent first in the second fragment's place, then the SYN.
        let syn = nmapBuilder().fragmentFrames(from: scanner, to: victim, nmapSYN, pieceSize: 8)
        let fin = nmapBuilder().fragmentFrames(
            from: scanner, to: victim,
            .tcp(
                sourcePort: 64412, destinationPort: 443, flags: .fin, sequence: 591_557_738, window: 1024,
                options: TCPOptionBytes.mssOnly),
            pieceSize: 8)
        let reassembler = FragmentReassembler()
        let (_, handedOn) = feedAll(reassembler, [syn[0], fin[1], syn[1], syn[2]])
        #expect(handedOn.count == 1 && handedOn.first?.tcpFlags == .fin)
        #expect(reassembler.overlapping == 1)
    }

    @Test func teardropAndOversizedFragmentsAreCountedNotFatal() {
        let frames = nmapBuilder().fragmentFrames(from: scanner, to: victim, linuxSYN, pieceSize: 24)
        var inside = frames[1]  // offset 24, length 16
        inside[14 + 2] = 0
        inside[14 + 3] = 20 + 4  // Teardrop: a fragment ending inside an earlier one
        inside[14 + 6] = 0x20
        inside[14 + 7] = 2  // MF, offset 16
        var beyond = frames[1]
        beyond[14 + 6] = 0x1F
        beyond[14 + 7] = 0xFF  // offset 65528: the datagram ends past 64 KiB
        let reassembler = FragmentReassembler()
        let (_, handedOn) = feedAll(reassembler, [frames[0], inside, beyond, frames[1]])
        #expect(reassembler.overlapping == 1)
        #expect(handedOn.count == 1 && handedOn.first?.tcpFlags == .syn)
        #expect(handedOn.first?.payloadLength == Int32(65528 + 16 - 40))  // the last fragment's end, minus the header
    }
}
