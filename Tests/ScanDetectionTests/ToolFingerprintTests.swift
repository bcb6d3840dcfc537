import Testing
import WireFormat

@testable import ScanDetection

private let scanner = IPAddress("198.18.0.3")!

/// SYNs to `count` targets built by `shape`, through the detector, and the episode's label.
private func label(count: Int = 30, _ shape: (Int, inout DecodedPacket) -> Void) throws -> (String?, Double?) {
    var configuration = DetectorConfiguration()
    configuration.maxSources = 1024
    let detector = ScanDetector(configuration: configuration, keys: .init(pair: 1, port: 2, host: 3))
    for i in 0..<count {
        var p = Traffic.tcp(scanner, 40000, Traffic.host(1000 + i), UInt16(1 + i), .syn, at: Double(i) * 0.01)
        shape(i, &p)
        _ = detector.process(p)
        _ = detector.process(
            Traffic.tcp(p.destination, p.destinationPort, scanner, p.sourcePort, [.rst, .ack], at: Double(i) * 0.01))
    }
    let episode = try #require(detector.closeAll().first)
    return (episode.tool, episode.toolConfidence)
}

/// The label of the one episode `packets` make, and how it was declared.
private func episodeLabel(_ packets: [DecodedPacket]) throws -> (tool: String?, path: DecisionPath?) {
    var configuration = DetectorConfiguration()
    configuration.maxSources = 1024
    let detector = ScanDetector(configuration: configuration, keys: .init(pair: 1, port: 2, host: 3))
    var path: DecisionPath?
    for p in packets { if let alert = detector.process(p) { path = path ?? alert.path } }
    let episode = try #require(detector.closeAll().first)
    return (episode.tool, path)
}

/// nmap's raw-probe TTL: 37–59, never twice in a row here.
private func nmapTTL(_ i: Int) -> UInt8 { UInt8(37 + (i * 7) % 23) }

@Suite struct ToolFingerprintTests {
    @Test func masscansIPIDRelationNamesMasscan() throws {
        let (tool, confidence) = try label { _, p in
            p.window = 1024
            p.sequenceNumber = 0x1234_5678 &+ UInt32(p.destinationPort) &* 7919
            p.ipID = (p.destination.ipv4Value ^ UInt32(p.destinationPort) ^ p.sequenceNumber) & 0xFFFF
        }
        #expect(tool == "masscan" && confidence == 1.0)
    }

    @Test func ipID54321NamesZMap() throws {
        let (tool, _) = try label { i, p in
            p.ipID = 54321
            p.sequenceNumber = UInt32(i) &* 2_654_435_761
        }
        #expect(tool == "zmap")
    }

    @Test func aSequenceNumberEqualToTheTargetNamesMirai() throws {
        #expect(try label { _, p in p.sequenceNumber = p.destination.ipv4Value }.0 == "mirai")
    }

    @Test func nmapsWindowMSSAndRepeatedSequenceNameNmap() throws {
        let (tool, _) = try label { i, p in
            p.window = [1024, 2048, 3072, 4096][i % 4]
            p.tcpOptions.kinds = TCPOptionSummary.mss
            p.tcpOptions.count = 1
            p.sequenceNumber = 426_721_688
            p.ipID = UInt32(i &* 40_503 & 0xFFFF)
        }
        #expect(tool == "nmap")
    }

    @Test func nmapsShapeWithoutTheRepeatedSequenceIsNotEnough() throws {
        let (tool, _) = try label { i, p in
            p.window = 1024
            p.tcpOptions.kinds = TCPOptionSummary.mss
            p.tcpOptions.count = 1
            p.sequenceNumber = UInt32(i) &* 2_654_435_761
            p.ipID = UInt32(i &* 40_503 & 0xFFFF) ^ 0x5A5A
        }
        #expect(tool == nil)
    }

    @Test func hping3sBareSYNWithAnAcknowledgementNumberNamesHping3() throws {
        let (tool, _) = try label { i, p in
            p.window = 512
            p.acknowledgementNumber = 0xBEEF_0000 &+ UInt32(i)
            p.sequenceNumber = UInt32(i) &* 2_654_435_761
            p.ipID = UInt32(i &* 40_503 & 0xFFFF) ^ 0x5A5A
        }
        #expect(tool == "hping3")
    }

    @Test func anOperatingSystemsConnectScanCarriesNoLabelWhateverItsOtherFields() throws {
        // SYNs with the stack's options are not examined at all: even an IP ID that happens to
        // fit zmap's, and a repeated sequence number, name no tool.
        let (tool, confidence) = try label { i, p in
            p.window = 1024
            p.tcpOptions.kinds = TCPOptionSummary.mss | TCPOptionSummary.sackPermitted | TCPOptionSummary.timestamps
            p.tcpOptions.count = 4
            p.sequenceNumber = 426_721_688
            p.ipID = 54321
        }
        #expect(tool == nil && confidence == nil)
    }

    @Test func nmapsUDPProbesWithRandomTTLsFromOneSourcePortNameNmapDespiteRetries() throws {
        var packets: [DecodedPacket] = []
        for i in 0..<30 {
            // Every third probe is a retry, from the source port plus the try number.
            var p = Traffic.udp(
                scanner, i % 3 == 2 ? 34220 : 34218, Traffic.host(2), UInt16(100 + i), at: Double(i) * 0.01)
            p.ttl = nmapTTL(i)
            packets.append(p)
            packets.append(
                Traffic.portUnreachable(
                    from: Traffic.host(2), quoting: scanner, p.sourcePort, Traffic.host(2), p.destinationPort))
        }
        #expect(try episodeLabel(packets).tool == "nmap")
    }

    @Test func masscansEmptyDatagramsSentWithTTL255NameMasscan() throws {
        let packets = (0..<30).map { i in
            var p = Traffic.udp(scanner, 51436, Traffic.host(2), UInt16(i), at: Double(i) * 0.01)
            p.ttl = 252
            p.ipID = UInt32(i &* 40_503 & 0xFFFF)
            return p
        }
        #expect(try episodeLabel(packets).tool == "masscan")
    }

    @Test func anOperatingSystemsUDPScanCarriesNoLabel() throws {
        let packets = (0..<30).map { i in
            var p = Traffic.udp(scanner, UInt16(40000 + 97 * i), Traffic.host(2), UInt16(i), at: Double(i) * 0.01)
            p.ttl = 64
            p.payloadLength = 1
            return p
        }
        #expect(try episodeLabel(packets).tool == nil)
    }

    @Test func aSilentNmapPingSweepIsDeclaredByItsFingerprintAfterFiveHosts() throws {
        let packets = (0..<32).map { i in
            var p = Traffic.ping(scanner, Traffic.host(500 + i), at: Double(i) * 0.01)
            p.payloadLength = 4  // identifier and sequence only: nmap sends no data
            p.sourcePort = UInt16(truncatingIfNeeded: i &* 40_503)  // the identifier, random per probe
            p.ttl = nmapTTL(i)
            return p
        }
        let (tool, path) = try episodeLabel(packets)
        #expect(tool == "nmap" && path == .toolFingerprint)
    }

    @Test func pingsFromThePingCommandCarryNoLabelAndDecideNothingBelowFifty() {
        var configuration = DetectorConfiguration()
        configuration.maxSources = 1024
        let detector = ScanDetector(configuration: configuration)
        for i in 0..<40 {
            var p = Traffic.ping(scanner, Traffic.host(500 + i), at: Double(i))
            p.payloadLength = 60
            p.sourcePort = 4242
            p.destinationPort = UInt16(i)  // the sequence counts up
            p.ttl = 64
            #expect(detector.process(p) == nil)
        }
    }

    @Test func aDNSQueryBeforeTheScanDoesNotHideNmapsMarks() throws {
        var packets = [Traffic.udp(scanner, 53913, Traffic.host(1), 53)]
        packets[0].ttl = 64
        packets[0].payloadLength = 42
        for i in 0..<30 {
            var p = Traffic.tcp(scanner, 41859, Traffic.host(1), UInt16(1 + i), .syn, at: 1 + Double(i) * 0.01)
            p.window = [1024, 2048, 3072, 4096][i % 4]
            p.tcpOptions.kinds = TCPOptionSummary.mss
            p.tcpOptions.count = 1
            p.sequenceNumber = 1_406_941_415
            packets.append(p)
        }
        #expect(try episodeLabel(packets).tool == "nmap")
    }

    @Test func tooFewProbesGiveNoLabel() {
        var evidence = ToolFingerprint.Evidence()
        evidence.examined = ToolFingerprint.minimumSample - 1
        evidence.zmapIPID = evidence.examined
        #expect(ToolFingerprint.identify(evidence) == nil)
    }

    @Test func laneCountsRoundTrip() {
        let word = ToolFingerprint.laneIncrements([.zmapIPID, .unicornscan]) &* 3
        var expected = ToolFingerprint.Evidence()
        expected.examined = 3
        expected.zmapIPID = 3
        expected.unicornscan = 3
        #expect(ToolFingerprint.evidence(fromLanes: word) == expected)
    }
}
