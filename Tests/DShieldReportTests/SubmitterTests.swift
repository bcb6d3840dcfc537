import DShieldReport
import Foundation
import Testing
import WireFormat
import _ScanTapTestSupport

@Suite struct SubmitterTests {
    @Test func everyRecordArrivesSignedThroughServerErrorsAndRateLimits() async throws {
        let dir = temporaryDirectory("submit")
        let received = dir + "/received.jsonl"
        let receiver = try DShieldReceiver(statuses: "500,200,429,200", received: received)
        let url = receiver.url

        let log = LogLines()
        let spool = try Spool(
            directory: dir + "/spool", configuration: SpoolConfiguration(batchRecordLimit: 4), log: log.append)
        let now = Date(timeIntervalSince1970: Double(exampleTime + 3600))
        let records = sampleRecords(10)
        try spool.append(records)
        try spool.append([record("198.51.100.200", 1, 22, proto: 6, flags: .syn, time: exampleTime - 86_400)])  // too old
        let copy = dir + "/localcopy.jsonl"
        let submitter = Submitter(
            configuration: SubmitterConfiguration(
                url: url, userID: DShieldReceiver.userID, apiKey: DShieldReceiver.apiKey,
                userAgent: "ScanTap/0.1 (test)", initialBackoff: .milliseconds(50), localCopy: copy),
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
        // dshield.ini's localcopy: each accepted body once (three batches of at most four), none refused.
        let bodies = try String(contentsOfFile: copy, encoding: .utf8).split(separator: "\n")
        let copied = try bodies.map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(copied.count == 3 && copied.map { ($0["logs"] as? [Any])?.count ?? 0 }.reduce(0, +) == records.count)
        #expect(!bodies.joined().contains("VGVzdEtleQ=="))
    }

    @Test func aBatchRefusedForGoodIsMovedAsideAndTheQueueGoesOn() async throws {
        let dir = temporaryDirectory("rejected")
        let received = dir + "/received.jsonl"
        // The first batch is refused with a 400; the second and third are refused the same way
        // in a row, which looks like a configuration problem: put back, backed off, retried.
        let receiver = try DShieldReceiver(statuses: "400,200,400,400", received: received)
        let log = LogLines()
        let spool = try Spool(
            directory: dir + "/spool", configuration: SpoolConfiguration(batchRecordLimit: 2), log: log.append)
        try spool.append(sampleRecords(6))
        let submitter = Submitter(
            configuration: SubmitterConfiguration(
                url: receiver.url, userID: DShieldReceiver.userID, apiKey: DShieldReceiver.apiKey,
                userAgent: "ScanTap/0.1 (test)", initialBackoff: .milliseconds(50)),
            spool: spool, log: log.append)
        let now = Date(timeIntervalSince1970: Double(exampleTime + 60))
        #expect(try await submitter.submitPending(now: now) == .retry(after: .milliseconds(50)))
        #expect(try await submitter.submitPending(now: now) == .done)
        let lines = try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && submitter.recordsSubmitted == 2 && submitter.recordsRejected == 4)
        let rejected = try FileManager.default.contentsOfDirectory(atPath: dir + "/spool/rejected").sorted()
        #expect(rejected == ["batch-000000000001.spool", "batch-000000000003.spool"])
        #expect(try spool.pendingRecords == 0)
        #expect(log.all.filter { $0.contains("REFUSED") }.count == 2)
    }

    @Test func aRetryAfterLongerThanTheLongestBackoffIsCutToIt() async throws {
        let dir = temporaryDirectory("retry-after")
        // The receiver says Retry-After: 1 with its 429; a longest backoff of 100 ms cuts it.
        let receiver = try DShieldReceiver(statuses: "429", received: dir + "/received.jsonl")
        let spool = try Spool(directory: dir + "/spool", log: { _ in })
        try spool.append(sampleRecords(1))
        let submitter = Submitter(
            configuration: SubmitterConfiguration(
                url: receiver.url, userID: DShieldReceiver.userID, apiKey: DShieldReceiver.apiKey,
                userAgent: "ScanTap/0.1 (test)", maximumBackoff: .milliseconds(100)),
            spool: spool, log: { _ in })
        #expect(
            try await submitter.submitPending(now: Date(timeIntervalSince1970: Double(exampleTime)))
                == .retry(after: .milliseconds(100)))
    }

    @Test func anUnreachableReceiverKeepsTheBatchAndDuplicatesAtMostThatBatch() async throws {
        let dir = temporaryDirectory("unreachable")
        let spool = try Spool(
            directory: dir + "/spool", configuration: SpoolConfiguration(batchRecordLimit: 3), log: { _ in })
        try spool.append(sampleRecords(6))
        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        let down = Submitter(
            configuration: SubmitterConfiguration(
                url: URL(string: "http://127.0.0.1:9/submitapi/")!, userID: DShieldReceiver.userID,
                apiKey: DShieldReceiver.apiKey, userAgent: "ScanTap/0.1 (test)", initialBackoff: .milliseconds(50),
                maximumBackoff: .milliseconds(100)),
            spool: spool, log: { _ in })
        let now = Date(timeIntervalSince1970: Double(exampleTime + 60))
        #expect(try await down.submitPending(now: now) == .retry(after: .milliseconds(50)))
        #expect(try await down.submitPending(now: now) == .retry(after: .milliseconds(100)))
        #expect(try spool.pendingRecords == 6)

        let received = dir + "/received.jsonl"
        let receiver = try DShieldReceiver(statuses: "", received: received)
        let url = receiver.url
        let up = Submitter(
            configuration: SubmitterConfiguration(
                url: url, userID: DShieldReceiver.userID, apiKey: DShieldReceiver.apiKey,
                userAgent: "ScanTap/0.1 (test)"), spool: spool, log: { _ in })
        #expect(try await up.submitPending(now: now) == .done)
        let lines = try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6 && spool.possibleDuplicates == 0)  // refused connections delivered nothing
    }
}
