import Foundation
import Testing
import _ScanTapTestSupport

/// `read --dshield-text/--dshield-json` against records derived independently with tcpdump's
/// own filters from the bundled sample.
@Suite struct DShieldOutputTests {
    static let victim = "198.18.0.2"

    /// `(source, destination port)` of every TCP packet tcpdump prints for `filter`, with the
    /// given side's port.
    static func tcpdump(_ filter: String, port: (String) -> String?) throws -> Set<String> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tcpdump", "-nn", "-r", "\(Scantap.root)/samples/lab-sample.pcap", filter]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var result = Set<String>()
        for line in text.split(separator: "\n") {
            // 16:47:16.254789 IP 198.18.0.3.58776 > 198.18.0.2.139: Flags [S], ...
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[1] == "IP" else { continue }
            if let key = port(String(fields[2]) + " " + String(fields[4].dropLast())) { result.insert(key) }
        }
        return result
    }

    static func split(_ endpoint: Substring) -> (String, String) {
        let dot = endpoint.lastIndex(of: ".")!
        return (String(endpoint[..<dot]), String(endpoint[endpoint.index(after: dot)...]))
    }

    /// A dshield.ini for the test receiver. The sample was captured on 2026-12-04; with the
    /// default 24-hour `maxage` its records would expire at submission from the next day on, so
    /// the age limit is set to a century here and the tests do not depend on today's date. The
    /// e-mail goes into the User-Agent, which the receiver checks.
    static func writeSubmittingConfig(_ path: String) throws {
        try
            "[DShield]\nuserid=\(DShieldReceiver.userID)\napikey=\(DShieldReceiver.apiKey)\nemail=ops@example.org\n[scantap]\nmaxage=3153600000\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump")
                || FileManager.default.isExecutableFile(atPath: "/usr/sbin/tcpdump"), "tcpdump is not installed"))
    func theFailedPolicyReportsExactlyTheUnansweredInboundAttempts() throws {
        // Inbound attempts: SYNs to the victim, keyed (source, port). Answered: the victim's
        // SYN/ACKs, keyed by the (destination, port) they answer.
        let attempts = try Self.tcpdump("tcp and dst host \(Self.victim) and tcp[tcpflags] == tcp-syn") { pair in
            let parts = pair.split(separator: " ")
            return "\(Self.split(parts[0]).0) \(Self.split(parts[1]).1)"
        }
        let answered = try Self.tcpdump("tcp and src host \(Self.victim) and tcp[tcpflags] == (tcp-syn|tcp-ack)") {
            pair in
            let parts = pair.split(separator: " ")
            return "\(Self.split(parts[1]).0) \(Self.split(parts[0]).1)"
        }
        let expected = attempts.subtracting(answered)
        #expect(expected.count > 300)  // two 200-port scans, most ports closed

        let dir = NSTemporaryDirectory() + "scantap-dshield-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Scantap.run([
            "read", "--format", "json", "--home-net", "\(Self.victim)/32", "--dshield-text", "\(dir)/records.txt",
            "--dshield-json", "\(dir)/records.json", "samples/lab-sample.pcap",
        ])
        #expect(result.status == 0, "\(result.stderr)")

        let text = try String(contentsOfFile: "\(dir)/records.txt", encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.first == "FORMAT DSHIELD USERID 0 TZ +00:00 scantap 0.1.0")
        var reported: [String] = []
        for line in lines.dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            #expect(f.count == 9 && f[0].hasSuffix(" +00:00") && f[2] == "1" && f[7] == "6" && f[8] == "S", "\(line)")
            reported.append("\(f[3]) \(f[6])")
        }
        #expect(reported.count == Set(reported).count)  // one record per flow
        #expect(Set(reported) == expected)

        let json =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/records.json")))
            as? [String: Any]
        let logs = try #require(json?["logs"] as? [[String: Any]])
        #expect(json?["type"] as? String == "firewall" && json?["authheader"] == nil)
        #expect(logs.count == expected.count)
        #expect(
            logs.allSatisfy {
                $0["time"] is Int && $0["sport"] is String && $0["dport"] is String && $0["proto"] as? Int == 6
            })
        #expect(Set(logs.map { "\($0["sip"]!) \($0["dport"]!)" }) == expected)
    }

    @Test func researchScannersAreLeftOutOnlyWhenAsked() throws {
        let dir = NSTemporaryDirectory() + "scantap-research-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The sample's first scanner, listed as a research organisation's for this test.
        let knowledge = "\(dir)/research.tsv"
        try
            "org\tkind\tvalue\tsource\tsource_date\tconfidence\tstatus\nLab Survey\tcidr4\t198.18.0.3/32\ttest\t2026-12\thigh\tlisted\n"
            .write(toFile: knowledge, atomically: true, encoding: .utf8)
        func sources(_ extra: [String]) throws -> Set<String> {
            let result = try Scantap.run(
                [
                    "read", "--format", "json", "--home-net", "\(Self.victim)/32", "--knowledge", knowledge,
                    "--dshield-text", "\(dir)/records.txt", "samples/lab-sample.pcap",
                ] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = try String(contentsOfFile: "\(dir)/records.txt", encoding: .utf8).split(separator: "\n")
                .dropFirst()
            return Set(lines.map { String($0.split(separator: "\t", omittingEmptySubsequences: false)[3]) })
        }
        let all = try sources([])
        #expect(all.contains("198.18.0.3") && all.contains("198.18.0.4"))
        #expect(try sources(["--dshield-exclude", "research"]) == all.subtracting(["198.18.0.3"]))
        let refused = try Scantap.run([
            "read", "--no-classify", "--dshield-exclude", "research", "samples/lab-sample.pcap",
        ])
        #expect(refused.status == 2 && refused.stderr.contains("--no-classify"))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "python3 is not installed"))
    func spooledRecordsAllArriveThroughAFailingReceiver() throws {
        let dir = NSTemporaryDirectory() + "scantap-submit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = "\(dir)/dshield.ini"
        let received = "\(dir)/received.jsonl"
        try Self.writeSubmittingConfig(config)
        let receiver = try DShieldReceiver(statuses: "500", received: received)
        let url = receiver.url.absoluteString

        let read = try Scantap.run([
            "read", "--format", "json", "--home-net", "\(Self.victim)/32", "--dshield-config", config,
            "--spool", "\(dir)/spool", "--dshield-text", "\(dir)/records.txt", "samples/lab-sample.pcap",
        ])
        #expect(read.status == 0, "\(read.stderr)")
        let expected =
            try String(contentsOfFile: "\(dir)/records.txt", encoding: .utf8).split(separator: "\n").count - 1  // the subject line; the blank line is not split out

        let first = try Scantap.run([
            "dshield", "submit", "--dshield-config", config, "--spool", "\(dir)/spool", "--dshield-url", url,
        ])
        #expect(first.status == 1 && first.stderr.contains("stay spooled"))
        let status = try #require(try Scantap.run(["dshield", "status", "--spool", "\(dir)/spool"]).events.first)
        #expect(status["pending_records"] as? Int == expected)
        #expect(
            (status["last_error"] as? [String: Any])?["error"] as? String == "HTTP 500"
                && status["last_success"] is NSNull)
        let second = try Scantap.run([
            "dshield", "submit", "--dshield-config", config, "--spool", "\(dir)/spool", "--dshield-url", url,
        ])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(
            second.events.first?["outcome"] as? String == "done"
                && second.events.first?["submitted"] as? Int == expected)

        let arrived = try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n")
        #expect(arrived.count == expected && Set(arrived).count == expected)
        let after = try #require(try Scantap.run(["dshield", "status", "--spool", "\(dir)/spool"]).events.first)
        #expect(after["pending_records"] as? Int == 0)
        // The latest success and the latest failure are both kept.
        #expect((after["last_success"] as? [String: Any])?["outcome"] as? String == "done")
        #expect((after["last_error"] as? [String: Any])?["error"] as? String == "HTTP 500")
        #expect((after["last_submit"] as? [String: Any])?["outcome"] as? String == "done")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "python3 is not installed"))
    func aSubmitterKilledMidPOSTLosesNothingAndDuplicatesOneBatchAtMost() throws {
        let dir = NSTemporaryDirectory() + "scantap-kill-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = "\(dir)/dshield.ini"
        let received = "\(dir)/received.jsonl"
        let spool = "\(dir)/spool"
        try Self.writeSubmittingConfig(config)
        // The receiver stores the first batch, then keeps the client waiting for its answer.
        let receiver = try DShieldReceiver(statuses: "slow", received: received)
        let url = receiver.url.absoluteString
        let read = try Scantap.run([
            "read", "--format", "json", "--home-net", "\(Self.victim)/32", "--dshield-config", config, "--spool", spool,
            "samples/lab-sample.pcap",
        ])
        #expect(read.status == 0, "\(read.stderr)")
        let spooled = try #require(
            try Scantap.run(["dshield", "status", "--spool", spool]).events.first?["pending_records"] as? Int)

        let submit = Process()
        submit.executableURL = URL(fileURLWithPath: Scantap.binary)
        submit.arguments = ["dshield", "submit", "--dshield-config", config, "--spool", spool, "--dshield-url", url]
        submit.standardOutput = FileHandle.nullDevice
        submit.standardError = FileHandle.nullDevice
        try submit.run()
        // kill -9 once the server holds the records, while the client still waits for the answer.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && ((try? String(contentsOfFile: received, encoding: .utf8))?.isEmpty ?? true) {
            usleep(20_000)
        }
        kill(submit.processIdentifier, SIGKILL)
        submit.waitUntilExit()

        let again = try Scantap.run([
            "dshield", "submit", "--dshield-config", config, "--spool", spool, "--dshield-url", url,
        ])
        #expect(again.status == 0, "\(again.stderr)")
        // The resent batch is counted and said aloud.
        #expect(again.events.first?["possible_duplicates"] as? Int == spooled)
        #expect(again.stderr.contains("may have reached DShield"), "\(again.stderr)")
        let arrived = try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n")
        #expect(Set(arrived).count == spooled)  // every record arrived
        #expect(arrived.count == 2 * spooled)  // the one batch in flight, twice; nothing else
    }

    @Test func aSubmissionURLThatIsNotHTTPAndAConfigWithoutAKeyAreOneLineErrors() throws {
        let dir = NSTemporaryDirectory() + "scantap-url-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = "\(dir)/dshield.ini"
        let spool = "\(dir)/spool"
        try Self.writeSubmittingConfig(config)
        for url in ["ftp://www.dshield.org/submitapi/", "localhost:8080/submitapi/", "http:///submitapi/"] {
            let result = try Scantap.run([
                "dshield", "submit", "--dshield-config", config, "--spool", spool, "--dshield-url", url,
            ])
            #expect(
                result.status == 2 && result.stderr.contains("--dshield-url")
                    && result.stderr.contains("http or https"), "\(url): \(result.stderr)")
        }
        try "[DShield]\nuserid=5\n".write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o600)
        let keyless = try Scantap.run(["dshield", "submit", "--dshield-config", config, "--spool", spool])
        #expect(keyless.status == 1 && keyless.stderr.contains("no apikey"), "\(keyless.stderr)")
        #expect(keyless.stderr.split(separator: "\n").count == 1)
    }

    @Test func aConfigReadableByOthersIsRefused() throws {
        let config = NSTemporaryDirectory() + "scantap-open-\(UUID().uuidString).ini"
        defer { try? FileManager.default.removeItem(atPath: config) }
        try "[DShield]\nuserid=1\napikey=secret\n".write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o644)
        let result = try Scantap.run([
            "dshield", "submit", "--dshield-config", config, "--spool", NSTemporaryDirectory() + "scantap-none",
        ])
        #expect(result.status == 1 && !result.stderr.contains("secret"))
    }

    @Test func liveWithoutAHomeNetworkIsAUsageErrorBeforeAnyInterfaceIsOpened() throws {
        let dir = NSTemporaryDirectory() + "scantap-home-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = "\(dir)/dshield.ini"
        try "[DShield]\nuserid=1\napikey=abc\n".write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o600)
        // No such interface, so no address of its own: nothing says what the home network is.
        let live = ["live", "-i", "scantap-none0", "--dshield-config", config, "--spool", "\(dir)/spool"]
        let unguarded = try Scantap.run(live)
        #expect(
            unguarded.status == 2 && unguarded.stderr.contains("home network")
                && unguarded.stderr.contains("honeypotip"))
        // With one, the run gets as far as opening the interface.
        let guarded = try Scantap.run(live + ["--home-net", "198.18.0.0/24"])
        #expect(guarded.status == 1 && guarded.stderr.contains("scantap-none0"))
    }

    @Test func dshieldOutputWithoutAHomeNetworkIsAUsageError() throws {
        let result = try Scantap.run(["read", "--dshield-text", "/tmp/never-written.txt", "samples/lab-sample.pcap"])
        #expect(result.status == 2 && result.stderr.contains("--home-net"))
    }
}
