import DShieldReport
import Dispatch
import Foundation
public import ScanReport
#if canImport(Glibc)
import Glibc
#endif

/// `scantap dshield submit|status`: sends what the spool holds, or says what it holds.
public enum DShieldCommand {
    /// Where `submit` leaves its last outcome for `status`, in the spool directory.
    static let statusFile = "last-submit.json"

    /// Loud warnings (dropped batches, resent batches) go to standard error.
    static func log(_ message: String) {
        let err = FileOutput(descriptor: 2)
        err.write("scantap: dshield: \(message)\n")
        err.flush()
    }

    static func loadConfig(_ path: String) throws(SensorError) -> DShieldConfig {
        do throws(DShieldConfigError) {
            return try DShieldConfig.load(path: path)
        } catch {
            throw SensorError.runtime(error.description)
        }
    }

    /// Runs the action and writes one JSON line to `output`.
    ///
    /// - Throws: `SensorError.runtime` when the spool or config cannot be used, or when a
    ///   submission failed (the records stay spooled; the message says when to retry).
    public static func run(_ options: SensorOptions, output: any LineOutput) throws(SensorError) {
        guard case .dshield(let action) = options.mode else { return }
        let statusPath = options.dshield.spool + "/" + statusFile
        switch action {
        case .status:
            // Counted without taking the spool over: a running `live` owns it.
            let pending: Int
            do throws(SpoolError) {
                pending = try Spool.pendingRecords(inDirectory: options.dshield.spool)
            } catch {
                throw SensorError.runtime(error.description)
            }
            let last = DataFiles.read(statusPath)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "null"
            output.write(
                "{\"event\":\"spool\",\"directory\":\(jsonString(options.dshield.spool)),"
                    + "\"pending_records\":\(pending),\"last_submit\":\(last)}\n")
            output.flush()
        case .submit:
            let spool: Spool
            do throws(SpoolError) {
                spool = try Spool(directory: options.dshield.spool, log: log)
            } catch {
                throw SensorError.runtime(error.description)
            }
            let config = try loadConfig(options.dshield.configFile ?? "")
            let urlText = options.dshield.url ?? config.submitURL
            guard let url = urlText.map({ URL(string: $0) }) ?? SubmitterConfiguration.officialURL else {
                throw SensorError.usage("--dshield-url: '\(urlText ?? "")' is not a URL")
            }
            let submitter = Submitter(
                configuration: SubmitterConfiguration(
                    url: url, userID: config.userID, apiKey: config.apiKey,
                    userAgent: "ScanTap/\(Sensor.version) (libpcap scan sensor; https://isc.sans.edu/)",
                    maximumRecordAge: .seconds(config.maximumRecordAgeSeconds ?? 86_400)),
                spool: spool, log: log)
            let job = SubmitJob(submitter: submitter)
            let result = waitFor { () async -> Result<SubmissionOutcome, SpoolError> in
                do throws(SpoolError) { return .success(try await job.submitter.submitPending()) } catch { return .failure(error) }
            }
            let now = Int64(Date().timeIntervalSince1970)
            var line = "{\"event\":\"submit\",\"time\":\(now),\"submitted\":\(submitter.recordsSubmitted),"
                + "\"expired\":\(submitter.recordsExpired),\"pending_records\":\(((try? spool.pendingRecords) ?? 0)),"
                + "\"possible_duplicates\":\(spool.possibleDuplicates)"
            let failure: SensorError?
            switch result {
            case .success(.done):
                line += ",\"outcome\":\"done\"}"
                failure = nil
            case .success(.retry(let after)):
                line += ",\"outcome\":\"retry\",\"retry_after\":\(after.components.seconds)}"
                failure = .runtime("submission failed; \(((try? spool.pendingRecords) ?? 0)) records stay spooled; retry in \(after.components.seconds) s")
            case .failure(let error):
                line += ",\"outcome\":\"error\"}"
                failure = .runtime(error.description)
            }
            try? Data((line + "\n").utf8).write(to: URL(fileURLWithPath: statusPath), options: .atomic)
            output.write(line + "\n")
            output.flush()
            if let failure { throw failure }
        }
    }

    /// Runs an async job to completion from synchronous code (the command line tool's main).
    private static func waitFor<T: Sendable>(_ job: @escaping @Sendable () async -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Task {
            box.value = await job()
            done.signal()
        }
        done.wait()
        return box.value!
    }

    /// The submitter handed to the task that runs it.
    private final class SubmitJob: @unchecked Sendable {
        // @unchecked: only the one task uses the submitter; this thread waits for it.
        let submitter: Submitter
        init(submitter: Submitter) { self.submitter = submitter }
    }

    private final class ResultBox<T>: @unchecked Sendable {
        // @unchecked: written once by the task before it signals, read after the wait.
        var value: T?
    }

    private static func jsonString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
