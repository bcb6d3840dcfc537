public import Foundation
internal import Synchronization
internal import WireFormat

/// When a running sensor submits: on the wall clock, every `interval` at a fixed random offset;
/// after a failed attempt, when the submitter says.
///
/// The official sensor's cron runs its parser at a random minute m and m + 30 of every hour, "so
/// not everybody is reporting at once" (reference §2.5): the default here is the same, 30
/// minutes at a whole random minute. Slots are counted from the Unix epoch, so they fall at the
/// same minutes of every hour whenever the sensor was started. A failed attempt is retried after
/// the submitter's `.retry(after:)` delay (its backoff, or a 429's `Retry-After`) instead of at
/// the next slot: the backoff exists so that a struggling server is not asked again sooner.
public struct SubmissionSchedule: Sendable, Equatable {
    /// Twice an hour, as the official sensor submits.
    public static let officialInterval = Duration.seconds(1800)
    /// The shortest wait before a retry: a `Retry-After: 0` must not turn into a tight loop.
    public static let minimumRetryWait = Duration.seconds(1)

    public let interval: Duration
    /// Where in each interval the attempts fall, from the start of the interval.
    public let offset: Duration

    /// - Precondition: `interval` is positive and `offset` lies in `0..<interval`.
    public init(interval: Duration, offset: Duration) {
        precondition(
            interval > .zero && offset >= .zero && offset < interval, "offset \(offset) outside 0..<\(interval)")
        self.interval = interval
        self.offset = offset
    }

    /// Draws the offset as cron's random minute: a whole number of minutes below the interval,
    /// or of seconds for an interval under a minute (tests).
    public init(interval: Duration = officialInterval, using generator: inout some RandomNumberGenerator) {
        let unit = interval >= .seconds(60) ? Duration.seconds(60) : .seconds(1)
        // Every whole unit that starts inside the interval (90 s: 0 or 60 s).
        let units = Int((interval.nanosecondCount - 1) / unit.nanosecondCount + 1)
        self.init(interval: interval, offset: unit * Int.random(in: 0..<units, using: &generator))
    }

    /// The first slot strictly after `now`.
    public func nextSlot(after now: Date) -> Date {
        let t = Int64((now.timeIntervalSince1970 * 1e9).rounded(.down))
        let step = interval.nanosecondCount
        let start = offset.nanosecondCount
        // Floor division: the slot at or before `now`, then one more.
        let elapsed = t - start
        let index = elapsed >= 0 ? elapsed / step : -((-elapsed - 1) / step + 1)
        // An interval of centuries has its next slot past what nanoseconds can count.
        let (slot, overflow) = (index + 1).multipliedReportingOverflow(by: step)
        let (time, overflowAgain) = start.addingReportingOverflow(slot)
        return overflow || overflowAgain ? .distantFuture : Date(timeIntervalSince1970: Double(time) / 1e9)
    }

    /// When to attempt next, after an attempt that ended at `now` with `outcome` (nil: the spool
    /// failed, which the next slot retries).
    public func nextAttempt(after outcome: SubmissionOutcome?, at now: Date) -> Date {
        guard case .retry(let wait)? = outcome else { return nextSlot(after: now) }
        return now.addingTimeInterval(Double(max(wait, Self.minimumRetryWait).nanosecondCount) / 1e9)
    }
}

/// Runs a `Submitter` on a `SubmissionSchedule`, blocking the thread that calls `run()`, so that
/// a live sensor's capture threads never wait on the network.
public final class ScheduledSubmitter: @unchecked Sendable {
    // @unchecked: `submitter` is used only by the thread in `run()`; `stopped` is atomic and
    // `wake` is a semaphore.

    /// One finished attempt, for the status file.
    public struct Attempt: Sendable {
        /// When it ended.
        public let time: Date
        /// `.failure` when the spool itself failed (the disk, not the network).
        public let result: Result<SubmissionOutcome, SpoolError>
        /// Records DShield accepted in this attempt.
        public let submitted: Int
        /// Records not sent in this attempt for being older than the age limit.
        public let expired: Int
        /// Records in batches DShield refused for good in this attempt (moved to `rejected/`).
        public let rejected: Int
        /// When the next attempt is due.
        public let next: Date
        /// Why a `.retry` outcome failed (`Submitter.lastFailure`).
        public let failure: String?
    }

    public let schedule: SubmissionSchedule
    private let submitter: Submitter
    private let onAttempt: (Attempt) -> Void
    private let stopped = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)

    /// - Parameter onAttempt: called on `run()`'s thread after each attempt.
    public init(submitter: Submitter, schedule: SubmissionSchedule, onAttempt: @escaping (Attempt) -> Void) {
        self.submitter = submitter
        self.schedule = schedule
        self.onAttempt = onAttempt
    }

    /// Submits at each due time until `stop()`. The first attempt is at the first slot after
    /// now: records spooled before a restart wait for it like new ones.
    public func run() {
        var next = schedule.nextSlot(after: Date())
        while true {
            // The wall clock is read again at least every second, so a clock step or a suspend
            // moves the attempt with it.
            while !stopped.load(ordering: .acquiring) {
                let remaining = next.timeIntervalSinceNow
                if remaining <= 0 { break }
                _ = wake.wait(timeout: .now() + min(remaining, 1))
            }
            if stopped.load(ordering: .acquiring) { return }
            let submittedBefore = submitter.recordsSubmitted
            let expiredBefore = submitter.recordsExpired
            let rejectedBefore = submitter.recordsRejected
            let result = submitter.submitPendingBlocking(now: Date())
            let now = Date()
            next = schedule.nextAttempt(after: try? result.get(), at: now)
            onAttempt(
                Attempt(
                    time: now, result: result, submitted: submitter.recordsSubmitted - submittedBefore,
                    expired: submitter.recordsExpired - expiredBefore,
                    rejected: submitter.recordsRejected - rejectedBefore,
                    next: next, failure: submitter.lastFailure))
        }
    }

    /// Makes `run()` return: at once while it waits, after the attempt in progress otherwise (a
    /// POST cut short would leave its batch to be sent again as possible duplicates).
    public func stop() {
        stopped.store(true, ordering: .releasing)
        wake.signal()
    }
}

extension Submitter {
    /// `submitPending(now:)` for a thread outside Swift's concurrency pool (the command line's
    /// main thread, the live sensor's submitter thread), which it blocks until the round ends.
    public func submitPendingBlocking(now: Date = Date()) -> Result<SubmissionOutcome, SpoolError> {
        let round = BlockingRound(submitter: self)
        Task {
            do throws(SpoolError) {
                round.result = .success(try await round.submitter.submitPending(now: now))
            } catch {
                round.result = .failure(error)
            }
            round.done.signal()
        }
        round.done.wait()
        return round.result!
    }
}

/// The submitter handed to the task that runs one round, and the round's result.
private final class BlockingRound: @unchecked Sendable {
    // @unchecked: the task alone uses `submitter` and writes `result` before it signals `done`;
    // the calling thread reads `result` only after waiting for `done`.
    let submitter: Submitter
    var result: Result<SubmissionOutcome, SpoolError>?
    let done = DispatchSemaphore(value: 0)
    init(submitter: Submitter) { self.submitter = submitter }
}
