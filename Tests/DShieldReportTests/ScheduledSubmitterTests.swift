import DShieldReport
import Foundation
import Testing
import WireFormat
import _ScanTapTestSupport

/// 13:00:00 UTC on the example day: an hour boundary.
private let hour = Date(timeIntervalSince1970: 1_772_370_000)

private func at(_ minutes: Double) -> Date { hour.addingTimeInterval(minutes * 60) }

/// The attempts a scheduled submitter reported, from its thread.
private final class Attempts: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [ScheduledSubmitter.Attempt] = []
    func append(_ attempt: ScheduledSubmitter.Attempt) {
        lock.lock()
        list.append(attempt)
        lock.unlock()
    }
    var all: [ScheduledSubmitter.Attempt] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }
}

@Suite struct ScheduledSubmitterTests {
    @Test func theOffsetIsAWholeRandomMinuteInsideTheHalfHour() {
        var random = SystemRandomNumberGenerator()
        let offsets = (0..<1000).map { _ in SubmissionSchedule(using: &random).offset }
        #expect(
            offsets.allSatisfy {
                $0 >= .zero && $0 < .seconds(1800) && $0.components.seconds % 60 == 0 && $0.components.attoseconds == 0
            })
        #expect(Set(offsets).count > 20)  // spread over the 30 possible minutes
        // Under a minute (tests), whole seconds instead.
        let short = (0..<200).map { _ in SubmissionSchedule(interval: .seconds(5), using: &random).offset }
        #expect(Set(short) == Set((0..<5).map { Duration.seconds($0) }))
        let odd = (0..<200).map { _ in SubmissionSchedule(interval: .seconds(90), using: &random).offset }
        #expect(Set(odd) == [.zero, .seconds(60)])
    }

    @Test func slotsFallAtTheOffsetOfEveryIntervalWhateverTheTimeNow() {
        let schedule = SubmissionSchedule(interval: .seconds(1800), offset: .seconds(7 * 60))
        #expect(schedule.nextSlot(after: at(5)) == at(7))
        #expect(schedule.nextSlot(after: at(7)) == at(37))  // strictly after
        #expect(schedule.nextSlot(after: at(37 - 1.0 / 120)) == at(37))
        #expect(schedule.nextSlot(after: at(40)) == at(67))
    }

    @Test func anIntervalTooLongForNanosecondsPutsTheNextSlotInTheFarFutureInsteadOfTrapping() {
        var random = SystemRandomNumberGenerator()
        #expect(SubmissionSchedule(interval: .seconds(Int64.max / 2), using: &random).nextSlot(after: hour) > hour)
        // The slot after one at the offset (a minute past the epoch) is past what nanoseconds count.
        #expect(
            SubmissionSchedule(interval: .seconds(Int64.max / 2), offset: .seconds(60)).nextSlot(after: hour)
                == .distantFuture)
    }

    @Test func aFailedAttemptIsRetriedAfterTheSubmittersDelayNotAtTheNextSlot() {
        let schedule = SubmissionSchedule(interval: .seconds(1800), offset: .seconds(7 * 60))
        #expect(schedule.nextAttempt(after: .retry(after: .seconds(300)), at: at(10)) == at(15))
        #expect(schedule.nextAttempt(after: .retry(after: .seconds(3600)), at: at(10)) == at(70))
        // A Retry-After of 0 waits a second, not nothing.
        #expect(schedule.nextAttempt(after: .retry(after: .zero), at: at(10)) == at(10).addingTimeInterval(1))
        #expect(schedule.nextAttempt(after: .done, at: at(10)) == at(37))
        #expect(schedule.nextAttempt(after: nil, at: at(10)) == at(37))  // the spool failed
    }

    @Test func aScheduledSubmitterDeliversOnItsOwnThreadAndWaitsOutA429() async throws {
        let dir = temporaryDirectory("scheduled")
        let received = dir + "/received.jsonl"
        let receiver = try DShieldReceiver(statuses: "429", received: received)
        let spool = try Spool(directory: dir + "/spool", log: { _ in })
        // Recorded now: the submitter runs on the wall clock and drops records over a day old.
        let now = Int64(Date().timeIntervalSince1970)
        try spool.append((0..<5).map { record("198.51.100.\($0 + 1)", 40000, 23, proto: 6, flags: .syn, time: now) })
        let submitter = Submitter(
            configuration: SubmitterConfiguration(
                url: receiver.url, userID: DShieldReceiver.userID, apiKey: DShieldReceiver.apiKey,
                userAgent: "ScanTap/0.1 (test)"),
            spool: spool, log: { _ in })
        let attempts = Attempts()
        let scheduled = ScheduledSubmitter(
            submitter: submitter, schedule: SubmissionSchedule(interval: .seconds(1), offset: .zero),
            onAttempt: attempts.append)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            scheduled.run()
            finished.signal()
        }.start()
        // The first slot is within a second; the 429 says to come back after 1 s. The bound is
        // generous: the whole suite shares two cores.
        let deadline = Date().addingTimeInterval(30)
        while attempts.all.count < 2 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        scheduled.stop()
        #expect(finished.wait(timeout: .now() + 5) == .success)

        let all = attempts.all
        try #require(all.count >= 2)
        #expect(try all[0].result.get() == .retry(after: .seconds(1)) && all[0].submitted == 0)
        #expect(try all[1].result.get() == .done && all[1].submitted == 5)
        #expect(all[1].time.timeIntervalSince(all[0].time) >= 0.95)
        #expect(all[0].next.timeIntervalSince(all[0].time) >= 0.99)
        #expect(try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n").count == 5)
    }
}
