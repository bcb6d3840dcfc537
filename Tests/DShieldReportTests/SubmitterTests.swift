import DShieldReport
import Foundation
import Testing
import WireFormat

/// The receiver: `scripts/dshield-receiver.py`, which checks each POST as DShield would need it
/// and appends every accepted record to a file.
private let receiverScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("scripts/dshield-receiver.py").path

/// Starts the receiver and returns it with its URL.
private func startReceiver(in dir: String, statuses: String, received: String) throws -> (Process, URL) {
    let script = receiverScript
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = [script, "12345", "VGVzdEtleQ==", statuses, received]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
        let chunk = output.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        line.append(chunk)
    }
    let port = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return (process, URL(string: "http://127.0.0.1:\(port)/submitapi/")!)
}

/// Stops the receiver with SIGKILL: a child of the test process may inherit a mask that blocks
/// SIGTERM, and then `terminate()` would leave the wait below hanging.
private func stop(_ receiver: Process) {
    kill(receiver.processIdentifier, SIGKILL)
    receiver.waitUntilExit()
}

@Suite struct SubmitterTests {
    @Test func everyRecordArrivesSignedThroughServerErrorsAndRateLimits() async throws {
        let dir = temporaryDirectory("submit")
        let received = dir + "/received.jsonl"
        let (receiver, url) = try startReceiver(in: dir, statuses: "500,200,429,200", received: received)
        defer { stop(receiver) }

        let log = LogLines()
        let spool = try Spool(directory: dir + "/spool", configuration: SpoolConfiguration(batchRecordLimit: 4), log: log.append)
        let now = Date(timeIntervalSince1970: Double(exampleTime + 3600))
        let records = sampleRecords(10)
        try spool.append(records)
        try spool.append([record("198.51.100.200", 1, 22, proto: 6, flags: .syn, time: exampleTime - 86_400)])  // too old
        let submitter = Submitter(
            configuration: SubmitterConfiguration(url: url, userID: 12345, apiKey: "VGVzdEtleQ==", userAgent: "ScanTap/0.1 (test)", initialBackoff: .milliseconds(50)),
            spool: spool, log: log.append)

        var outcomes: [SubmissionOutcome] = []
        for _ in 0..<8 {
            let outcome = try await submitter.submitPending(now: now)
            outcomes.append(outcome)
            if outcome == .done { break }
        }
        // 500 backs off by the initial wait; 429 waits as long as Retry-After says.
        #expect(outcomes == [.retry(after: .milliseconds(50)), .retry(after: .seconds(1)), .done])
        let lines = try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == records.count)  // each exactly once: no duplicates, none lost
        let expected = records.map { DShieldJSONFormat.record($0).replacingOccurrences(of: " ", with: "") }
        #expect(Set(lines.map { $0.replacingOccurrences(of: " ", with: "") }) == Set(expected))
        #expect(submitter.recordsSubmitted == 10 && submitter.recordsExpired == 1 && spool.possibleDuplicates == 0)
        #expect(try spool.pendingRecords == 0)
        #expect(!log.all.joined().contains("VGVzdEtleQ=="))
    }

    @Test func anUnreachableReceiverKeepsTheBatchAndDuplicatesAtMostThatBatch() async throws {
        let dir = temporaryDirectory("unreachable")
        let spool = try Spool(directory: dir + "/spool", configuration: SpoolConfiguration(batchRecordLimit: 3), log: { _ in })
        try spool.append(sampleRecords(6))
        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        let down = Submitter(
            configuration: SubmitterConfiguration(url: URL(string: "http://127.0.0.1:9/submitapi/")!, userID: 12345, apiKey: "VGVzdEtleQ==", userAgent: "ScanTap/0.1 (test)", initialBackoff: .milliseconds(50), maximumBackoff: .milliseconds(100)),
            spool: spool, log: { _ in })
        let now = Date(timeIntervalSince1970: Double(exampleTime + 60))
        #expect(try await down.submitPending(now: now) == .retry(after: .milliseconds(50)))
        #expect(try await down.submitPending(now: now) == .retry(after: .milliseconds(100)))
        #expect(try spool.pendingRecords == 6)

        let received = dir + "/received.jsonl"
        let (receiver, url) = try startReceiver(in: dir, statuses: "", received: received)
        defer { stop(receiver) }
        let up = Submitter(configuration: SubmitterConfiguration(url: url, userID: 12345, apiKey: "VGVzdEtleQ==", userAgent: "ScanTap/0.1 (test)"), spool: spool, log: { _ in })
        #expect(try await up.submitPending(now: now) == .done)
        let lines = try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6 && spool.possibleDuplicates == 0)  // refused connections delivered nothing
    }
}
