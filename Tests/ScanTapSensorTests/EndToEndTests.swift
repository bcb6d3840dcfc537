import Foundation
import PacketCapture
import ReverseDNS
import Testing
import WireFormat
import _ScanTapTestSupport

/// Writes a capture of one SYN scan (closed ports answer RST) starting at `second`.
private func writeScan(
    to path: String, ports: ClosedRange<UInt16>, second: Int64 = 1_700_000_000, linkType: Int32 = 1,
    scanner: IPAddress = IPAddress("198.18.0.3")!
) throws {
    let builder = FrameBuilder()
    let victim = IPAddress("198.18.0.10")!
    let writer = try SavefileWriter(path: path, dataLinkType: linkType)
    for port in ports {
        let t = Timestamp(seconds: second, nanoseconds: Int64(port) * 1_000_000)
        writer.write(
            builder.frame(
                from: scanner, to: victim,
                .tcp(
                    sourcePort: 40000, destinationPort: port, flags: .syn,
                    options: TCPOptionBytes.mssOnly)), timestamp: t)
        writer.write(
            builder.frame(
                from: victim, to: scanner, .tcp(sourcePort: port, destinationPort: 40000, flags: [.rst, .ack])),
            timestamp: t + .microseconds(100))
    }
}

private func temporary(_ name: String) -> String {
    NSTemporaryDirectory() + "scantap-e2e-\(UUID().uuidString)-\(name)"
}

@Suite struct EndToEndTests {
    @Test func theBundledSampleShowsItsThreeScannersWithTheirTechniques() throws {
        let result = try Scantap.run(["read", "--format", "json", "samples/lab-sample.pcap"])
        #expect(result.status == 0, "\(result.stderr)")
        let scans = result.events("scan")
        let techniques = Dictionary(
            uniqueKeysWithValues: scans.map { ($0["src"] as! String, $0["technique"] as! String) })
        #expect(techniques == ["198.18.0.3": "syn", "198.18.0.4": "connect", "2001:db8:0:1::3": "syn"])
        #expect(result.events("alert").count == 3)
        let stats = try #require(result.events.last)
        #expect(stats["event"] as? String == "stats" && stats["episodes"] as? Int == 3)
    }

    @Test func severalFilesAreOneContinuousCapture() throws {
        let first = temporary("a.pcap")
        let second = temporary("b.pcap")
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        try writeScan(to: first, ports: 1...30)
        try writeScan(to: second, ports: 31...60)
        let result = try Scantap.run(["read", "--format", "json", "--filter", "tcp", first, second])
        let scans = result.events("scan")
        #expect(scans.count == 1 && scans.first?["probes"] as? Int == 60)
        #expect(result.events("stats").first?["packets"] as? Int == 120)
    }

    @Test func aScanSentInFragmentsIsReassembledAndCounted() throws {
        // nmap -f: every probe in 8-byte fragments, the flags in the second.
        let result = try Scantap.run(["read", "--format", "json", "Tests/Fixtures/lab/nmap-frag4.pcap"])
        let scan = try #require(result.events("scan").first)
        #expect(scan["technique"] as? String == "syn" && scan["tool"] as? String == "nmap")
        let stats = try #require(result.events("stats").first)
        #expect(stats["fragments_reassembled"] as? Int == 101 && stats["fragment_overlaps"] as? Int == 0)
    }

    @Test func standardInputIsReadWithADash() throws {
        let path = temporary("stdin.pcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeScan(to: path, ports: 1...20)
        let result = try Scantap.run(
            ["read", "--format", "json", "--filter", "tcp", "-"],
            stdin: try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(result.status == 0 && result.events("scan").count == 1)
    }

    @Test func aTruncatedCaptureStillReportsWhatCameBeforeTheCut() throws {
        let path = temporary("cut.pcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeScan(to: path, ports: 1...50)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data.removeLast(10)
        try data.write(to: URL(fileURLWithPath: path))
        let result = try Scantap.run(["read", "--format", "json", "--filter", "tcp", path])
        #expect(result.status == 1)
        #expect(result.events("scan").first?["probes"] as? Int == 50)
        #expect(result.events.last?["event"] as? String == "stats")
        #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains("truncated"))
    }

    @Test(arguments: [
        (["read", "/nonexistent.pcap"], Int32(1), "No such file"),
        (["read", "Package.swift"], 1, "Package.swift: unknown file format"),
        (["read", "samples/lab-sample.pcap", "/nonexistent.pcap"], 1, "/nonexistent.pcap: No such file"),
        (["read", "--filter", "tcp and and", "samples/lab-sample.pcap"], 2, "invalid filter"),
        (["read", "--bogus", "samples/lab-sample.pcap"], 2, "unknown option"),
        (["read", "--ignore", "300.1.2.3/8", "samples/lab-sample.pcap"], 2, "300.1.2.3/8"),
    ])
    func badInputGivesOneLineAndTheDocumentedStatus(arguments: [String], status: Int32, message: String) throws {
        let result = try Scantap.run(arguments)
        #expect(result.status == status)
        #expect(result.stderr.hasPrefix("scantap: ") && result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        // Input that cannot be opened is refused before anything is printed.
        if arguments.contains("/nonexistent.pcap") { #expect(result.stdout.isEmpty) }
    }

    @Test func anUnsupportedLinkTypeIsNamed() throws {
        let path = temporary("wifi.pcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try SavefileWriter(path: path, dataLinkType: 105)
        let result = try Scantap.run(["read", path])
        #expect(result.status == 1 && result.stderr.contains("unsupported link type IEEE802_11"))
    }

    @Test func aScannerFromAListedResearchRangeIsLabelledWithItsOrganisation() throws {
        let path = temporary("shodan.pcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        // 71.6.135.131 is listed as Shodan's in the shipped knowledge base. Nothing is sent
        // anywhere: the packets exist only in this file.
        try writeScan(to: path, ports: 1...30, scanner: IPAddress("71.6.135.131")!)
        let scan = try #require(try Scantap.run(["read", "--format", "json", path]).events("scan").first)
        #expect(scan["verdict"] as? String == "research" && scan["org"] as? String == "Shodan")
        #expect((scan["evidence"] as? [String])?.isEmpty == false)
        #expect((scan["confidence"] as? Double ?? 0) > 0)

        let demoted = try Scantap.run(["read", "--format", "json", "--demote", "Shodan", path])
        #expect(demoted.events("scan").first?["verdict"] as? String == "unknown")
    }

    @Test func theOperatorsDenyListMakesAScannerMalicious() throws {
        let path = temporary("deny.pcap")
        let list = temporary("deny.txt")
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: list)
        }
        try writeScan(to: path, ports: 1...30)
        try "# our honeypot's worst\n198.18.0.0/24\n".write(toFile: list, atomically: true, encoding: .utf8)
        let scan = try #require(
            try Scantap.run(["read", "--format", "json", "--deny", list, path]).events("scan").first)
        #expect(scan["verdict"] as? String == "malicious")
        #expect(
            try Scantap.run(["read", "--format", "json", "--no-classify", path]).events("scan").first?["verdict"]
                as? String == "unknown")
    }

    @Test func badClassifierInputsAreOneLineErrors() throws {
        let bad = temporary("bad.tsv")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        try "org\tkind\tvalue\tsource\tsource_date\tconfidence\tstatus\nX\tcidr4\t300.1.2.0/24\ts\td\thigh\tlisted\n"
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let malformed = try Scantap.run(["read", "--knowledge", bad, "samples/lab-sample.pcap"])
        #expect(malformed.status == 1 && malformed.stderr.contains("\(bad):2:"))
        #expect(malformed.stdout.isEmpty)
        let unknownOrg = try Scantap.run(["read", "--drop", "No Such Org", "samples/lab-sample.pcap"])
        #expect(unknownOrg.status == 2 && unknownOrg.stderr.contains("No Such Org"))
    }

    @Test func classifyAnswersForAddressesWithTheirEvidence() throws {
        let result = try Scantap.run(["classify", "71.6.135.131", "71.6.135.132", "2001:db8::1"])
        #expect(result.status == 0)
        let lines = result.events
        #expect(lines.map { $0["ip"] as? String } == ["71.6.135.131", "71.6.135.132", "2001:db8::1"])
        #expect(lines[0]["verdict"] as? String == "research" && lines[0]["org"] as? String == "Shodan")
        // The next address is outside the listed /32: not attributed.
        #expect(lines[1]["verdict"] as? String == "unknown" && lines[1]["org"] is NSNull)
        #expect(try Scantap.run(["classify", "not-an-address"]).status == 2)
    }

    @Test func classifyEnrichesAnotherSensorsScanLines() throws {
        let input = """
            {"event":"alert","src":"198.18.0.9","technique":"syn","detected_after":4,"time":"2026-12-04T15:33:15.023119Z"}
            {"event":"scan","src":"198.18.0.9","first_seen":"2026-12-04T15:33:15.023119Z","last_seen":"2026-12-04T15:34:15.023119Z","technique":"syn","shape":"horizontal","probes":900,"ports":[23],"distinct_ports":1,"tool":"mirai","verdict":"unknown","org":null,"evidence":[]}
            {"event":"summary","research":{"episodes":0,"probes":0}}
            {"event":"stats","packets":1}
            """
        let result = try Scantap.run(["classify", "--episodes", "-"], stdin: Data(input.utf8))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.events.map { $0["event"] as? String } == ["alert", "scan", "stats"])
        let scan = try #require(result.events("scan").first)
        #expect(scan["verdict"] as? String == "malicious" && scan["probes"] as? Int == 900)
        #expect((scan["evidence"] as? [String])?.contains { $0.contains("Mirai") } == true)
        let broken = try Scantap.run(
            ["classify", "--episodes", "-"], stdin: Data("{\"event\":\"stats\"}\nnot json\n".utf8))
        #expect(broken.status == 1 && broken.stderr.contains("-:2: not a JSON object"))
        #expect(broken.events.count == 1)
    }

    @Test(.enabled(if: LocalDNSServer.available, "dnsmasq is missing and cannot be installed"))
    func classifyWithResolveTrustsOnlyForwardConfirmedNames() throws {
        let server = try #require(LocalDNSServer.shared).server
        // 192.0.2.10's PTR census1.shodan.io resolves back to it; 192.0.2.66's scan.shodan.io
        // points elsewhere (a spoofed PTR). Documentation addresses, served by a local dnsmasq.
        let result = try Scantap.run([
            "classify", "--resolve", "--resolver", server.description, "192.0.2.10", "192.0.2.66",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.events
        #expect(lines.count == 2)
        #expect(lines.first?["verdict"] as? String == "research" && lines.first?["org"] as? String == "Shodan")
        #expect(lines.last?["verdict"] as? String == "unknown")
        let why = (lines.last?["evidence"] as? [String])?.joined(separator: " ") ?? ""
        #expect(why.contains("scan.shodan.io") && why.contains("confirm"), "\(why)")
    }

    @Test func helpAndVersionExitZero() throws {
        #expect(try Scantap.run(["--help"]).stdout.contains("usage: scantap read"))
        #expect(try Scantap.run(["--version"]).status == 0)
    }
}
