import DShieldReport
import Foundation
import ScanReport
import Synchronization
import WireFormat

/// DShield from `live`: one flow table for every capture thread, decided records spooled within
/// a second, and submissions on the wall clock from a thread of their own.
///
/// A passive tap delivers each direction on its own interface, so a SYN and its answer reach
/// different capture threads: they must meet in one table. `FlowTable` is not thread-safe, so a
/// capture thread takes its lock once per batch of decoded packets (`PacketPipeline.batchSize`),
/// never per packet; the lock-free rule is the per-source table's, whose updates are many times
/// more frequent. Decided records wait in memory until the next sweep (a second) and are then
/// appended to the spool and synced: a `kill -9` loses at most that second, and the flows still
/// waiting for their answer deadline (`FlowTableConfiguration.answerDeadline`), which are
/// undecided and exist only in the table.
final class LiveDShield: Sendable {
    /// Decided records held in memory while the spool cannot be written (a full or failing disk):
    /// the official sensor's largest run (`maxlines`, 100,000 lines), a few megabytes. Past it the
    /// oldest are dropped, loudly.
    static let maximumUnspooled = 100_000
    /// How long the end of the run waits for a submission in progress. A POST normally answers in
    /// well under a second; one that takes longer is left as a crash would leave it (sent again
    /// next time, counted as possible duplicates) rather than holding up the sensor's exit.
    static let exitGrace = Duration.seconds(5)

    private struct State {
        let flows: FlowTable
        /// Decided, not yet in the spool.
        var decided: [DShieldRecord] = []

        mutating func take() -> [DShieldRecord] {
            defer { decided.removeAll(keepingCapacity: true) }
            return decided
        }
    }

    private let state: Mutex<State>
    private let spool: Spool
    private let settings: DShieldSettings
    private let scheduled: ScheduledSubmitter
    private let spoolFailing = Atomic<Bool>(false)
    private let submissionsEnded = DispatchSemaphore(value: 0)

    /// Opens the spool (as the user the sensor runs as, after `-Z`) and prepares the submitter.
    ///
    /// - Parameter isScanner: for the `scans` policy, whether the detector has declared a source.
    /// - Throws: `SensorError.runtime` when the spool cannot be opened (or another process owns
    ///   it) or the dshield.ini lacks `userid` or `apikey`, `.usage` for a bad `--dshield-url`
    ///   or `submiturl`.
    init(
        options: SensorOptions.DShieldOptions, settings: DShieldSettings, config: DShieldConfig,
        isScanner: @escaping @Sendable (IPAddress) -> Bool
    ) throws(SensorError) {
        state = Mutex(State(flows: FlowTable(settings.flows, sourceIsScanner: isScanner)))
        self.settings = settings
        let spool: Spool
        do throws(SpoolError) {
            spool = try Spool(directory: options.spool, log: DShieldCommand.log)
        } catch {
            throw SensorError.runtime(error.description)
        }
        self.spool = spool
        var random = SystemRandomNumberGenerator()
        let schedule = SubmissionSchedule(interval: .seconds(options.submitInterval), using: &random)
        let directory = options.spool
        scheduled = ScheduledSubmitter(
            submitter: try DShieldCommand.makeSubmitter(config: config, url: options.url, spool: spool),
            schedule: schedule
        ) { attempt in
            if case .failure(let error) = attempt.result {
                DShieldCommand.log("submission stopped by the spool: \(error)")
            }
            DShieldCommand.writeStatus(
                DShieldCommand.statusLine(
                    time: attempt.time, submitted: attempt.submitted, expired: attempt.expired,
                    rejected: attempt.rejected,
                    spool: spool,
                    result: attempt.result, failure: attempt.failure, next: attempt.next),
                result: attempt.result, spool: directory)
        }
        let first = schedule.nextSlot(after: Date())
        DShieldCommand.log(
            "spooling to \(directory); submitting every \(options.submitInterval) s, next at "
                + first.formatted(.iso8601))
    }

    /// Feeds one capture thread's batch to the shared flow table.
    func process(_ packets: UnsafeBufferPointer<DecodedPacket>) {
        state.withLock { state in
            for packet in packets { state.flows.process(packet, into: &state.decided) }
        }
    }

    /// The sweeper's once-a-second step: moves the flow table's clock on (the wall clock when
    /// the link is quiet, so withheld records still leave on time) and spools what is decided.
    func sweep(now: Timestamp) {
        var records = state.withLock { state in
            state.flows.advance(to: now, into: &state.decided)
            return state.take()
        }
        settings.keepReportable(&records)
        guard !records.isEmpty else { return }
        do throws(SpoolError) {
            try spool.append(records)
            if spoolFailing.exchange(false, ordering: .relaxed) { DShieldCommand.log("spool writable again") }
        } catch {
            // Kept for the next sweep; said once per failure, not once a second.
            if !spoolFailing.exchange(true, ordering: .relaxed) {
                DShieldCommand.log("cannot spool records (\(error)); holding up to \(Self.maximumUnspooled) in memory")
            }
            // Those the spool stored before failing are not held again: they would be sent twice.
            let unstored = records.dropFirst(error.recordsStored)
            state.withLock { state in
                state.decided.insert(contentsOf: unstored, at: 0)
                let excess = state.decided.count - Self.maximumUnspooled
                if excess > 0 {
                    state.decided.removeFirst(excess)
                    DShieldCommand.log("dropped the \(excess) oldest records the spool could not take")
                }
            }
        }
    }

    /// Submits on the schedule until `stopSubmissions()`; blocks the calling thread, which
    /// should be one of its own.
    func runSubmissions() {
        scheduled.run()
        submissionsEnded.signal()
    }

    /// Asks the submissions to end: at once when waiting, after the POST in progress otherwise.
    func stopSubmissions() {
        scheduled.stop()
    }

    /// Waits up to `exitGrace` for `runSubmissions()` to return.
    func awaitSubmissions() {
        if submissionsEnded.wait(timeout: .now() + .seconds(Int(Self.exitGrace.components.seconds))) == .timedOut {
            DShieldCommand.log(
                "a submission was still in progress at exit; its batch will be sent again and counted as possible duplicates"
            )
        }
    }

    /// End of the run: decides the flows still held (unanswered so far) and spools every record.
    ///
    /// - Throws: `SensorError.runtime` when the spool cannot take them, saying how many are lost.
    func finish() throws(SensorError) {
        var records = state.withLock { state in
            state.flows.finish(into: &state.decided)
            settings.sayUntracked(state.flows)
            return state.take()
        }
        settings.keepReportable(&records)
        do throws(SpoolError) {
            try spool.append(records)
        } catch {
            throw SensorError.runtime("\(error): \(records.count - error.recordsStored) DShield records not spooled")
        }
    }
}
