import ScanDetection
import Testing
import WireFormat

@testable import ScanReport

private let start = Timestamp(nanoseconds: 1_796_398_395_023_119_000)

private func episode(classification: Classification = .unknown, tool: String? = nil) -> Episode {
    var e = Episode(
        source: IPAddress("2001:db8::3")!, firstSeen: start,
        lastSeen: Timestamp(nanoseconds: start.nanoseconds + 1_500_000_000),
        technique: .syn, shape: .vertical, probes: 1002, distinctPorts: 997, distinctTargets: 1, ports: [21, 22, 80],
        detectedAfter: 5, declaredAt: start, decidedBy: .sequentialTest, successes: 3, failures: 990, end: .idle)
    e.classification = classification
    e.tool = tool
    e.toolConfidence = tool == nil ? nil : 0.9
    return e
}

@Suite struct JSONLinesSinkTests {
    @Test func anAlertIsOneLineWithTheContractKeysInOrder() {
        let sink = JSONLinesSink(output: MemoryOutput())
        sink.alert(
            Alert(
                source: IPAddress("198.18.0.3")!, technique: .connect, detectedAfter: 4, time: start,
                path: .sequentialTest))
        #expect(
            (sink.output as! MemoryOutput).text == """
                {"event":"alert","src":"198.18.0.3","technique":"connect","detected_after":4,"time":"2026-12-04T15:33:15.023119Z","decided_by":"sequential-test"}

                """)
    }

    @Test func aScanLineCarriesEveryContractField() {
        let sink = JSONLinesSink(output: MemoryOutput())
        sink.episode(episode())
        #expect(
            (sink.output as! MemoryOutput).text == """
                {"event":"scan","src":"2001:db8::3","first_seen":"2026-12-04T15:33:15.023119Z","last_seen":"2026-12-04T15:33:16.523119Z","technique":"syn","shape":"vertical","probes":1002,"distinct_ports":997,"distinct_targets":1,"ports":[21,22,80],"detected_after":5,"tool":null,"tool_confidence":null,"verdict":"unknown","org":null,"evidence":[],"decided_by":"sequential-test","successes":3,"failures":990,"closed_by":"idle","confidence":null,"direction":null,"payload_hosts":0}

                """)
    }

    @Test func classificationAndToolAreWrittenAndStringsEscaped() {
        let sink = JSONLinesSink(output: MemoryOutput())
        sink.episode(
            episode(
                classification: Classification(
                    verdict: .research, organization: "Example \"Scan\" Org",
                    evidence: ["ptr scan-1.example.org\tconfirmed", "range 192.0.2.0/24\n"]),
                tool: "nmap"))
        let line = (sink.output as! MemoryOutput).text
        #expect(
            line.contains(#""tool":"nmap","tool_confidence":0.9,"verdict":"research","org":"Example \"Scan\" Org""#))
        #expect(line.contains(#""evidence":["ptr scan-1.example.org\tconfirmed","range 192.0.2.0/24\n"]"#))
    }

    @Test func theSummaryThenStatsAreTheLastLines() {
        let sink = JSONLinesSink(output: MemoryOutput())
        sink.episode(episode(classification: Classification(verdict: .research, organization: "Shodan")))
        sink.episode(episode(classification: Classification(verdict: .research, organization: "Censys")))
        sink.episode(episode(classification: Classification(verdict: .malicious)))
        var s = RunStatistics()
        s.packets = 10
        s.decoded = 8
        s.malformed = 1
        s.kernelDrops = 2
        s.sourcesTracked = 3
        s.evictions = 4
        s.episodes = 3
        s.fragmentsReassembled = 5
        s.fragmentOverlaps = 1
        sink.finish(s)
        let lines = (sink.output as! MemoryOutput).text.split(separator: "\n")
        #expect(
            lines.suffix(2).joined(separator: "\n") == """
                {"event":"summary","research":{"episodes":2,"probes":2004},"malicious":{"episodes":1,"probes":1002},"unknown":{"episodes":0,"probes":0},"organizations":{"Censys":{"episodes":1,"probes":1002},"Shodan":{"episodes":1,"probes":1002}}}
                {"event":"stats","packets":10,"decoded":8,"malformed":1,"kernel_drops":2,"sources_tracked":3,"evictions":4,"episodes":3,"untracked":0,"fragments_reassembled":5,"fragment_overlaps":1}
                """)
    }

    @Test func finishingFlushesTheOutput() {
        let output = MemoryOutput()
        let sink = JSONLinesSink(output: output)
        sink.episode(episode())
        #expect(output.flushes == 0)
        sink.finish(RunStatistics())
        #expect(output.flushes == 1)
    }

    @Test func integersOfEveryWidthAreWrittenExactly() {
        var line = JSONLine()
        for value in [0, 7, 10, 65535, -42, Int.max, Int.min] {
            line.bytes.removeAll()
            line.integer(value)
            #expect(String(decoding: line.bytes, as: UTF8.self) == String(value))
        }
    }
}

@Suite struct TableSinkTests {
    @Test func theTableShowsTheEpisodeAndTheStatistics() {
        let sink = TableSink(output: MemoryOutput())
        sink.episode(
            episode(
                classification: Classification(
                    verdict: .research, organization: "Shodan", evidence: ["ptr census1.shodan.io"])))
        var s = RunStatistics()
        s.episodes = 1
        s.packets = 2020
        sink.finish(s)
        let text = (sink.output as! MemoryOutput).text
        #expect(text.contains("SCAN  2001:db8::3  syn vertical"))
        #expect(text.contains("probes 1002, ~997 ports, ~1 hosts, detected after 5"))
        #expect(text.contains("ports 21 22 80"))
        #expect(text.contains("verdict research (Shodan)  evidence: ptr census1.shodan.io"))
        #expect(text.contains("1 scan episode; 2020 packets"))
    }
}
