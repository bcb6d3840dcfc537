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
        _ = detector.process(Traffic.tcp(p.destination, p.destinationPort, scanner, p.sourcePort, [.rst, .ack], at: Double(i) * 0.01))
    }
    let episode = try #require(detector.closeAll().first)
    return (episode.tool, episode.toolConfidence)
}

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

    @Test func anOperatingSystemsConnectScanCarriesNoLabel() throws {
        let (tool, confidence) = try label { i, p in
            p.window = 64240
            p.tcpOptions.kinds = TCPOptionSummary.mss | TCPOptionSummary.sackPermitted | TCPOptionSummary.timestamps
            p.tcpOptions.count = 4
            p.sequenceNumber = UInt32(i) &* 2_654_435_761
            p.ipID = UInt32(i &* 40_503 & 0xFFFF) ^ 0x5A5A
        }
        #expect(tool == nil && confidence == nil)
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
