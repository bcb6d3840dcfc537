import DShieldReport
import Foundation
public import ScanReport

#if canImport(Glibc)
    import Glibc
#endif

/// `scantap dshield submit|status`: sends what the spool holds, or says what it holds.
public enum DShieldCommand {
    /// Where submissions leave their outcome for `status`, in the spool directory: the latest
    /// attempt's, the latest success's and the latest failure's.
    static let statusFiles = (latest: "last-submit.json", success: "last-success.json", failure: "last-error.json")

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
        switch action {
        case .status:
            // Counted without taking the spool over: a running `live` owns it.
            let pending: Int
            do throws(SpoolError) {
                pending = try Spool.pendingRecords(inDirectory: options.dshield.spool)
            } catch {
                throw SensorError.runtime(error.description)
            }
            func saved(_ file: String) -> String {
                DataFiles.read(options.dshield.spool + "/" + file)?.trimmingCharacters(in: .whitespacesAndNewlines)
                    ?? "null"
            }
            output.write(
                "{\"event\":\"spool\",\"directory\":\(jsonString(options.dshield.spool)),"
                    + "\"pending_records\":\(pending),\"last_submit\":\(saved(statusFiles.latest)),"
                    + "\"last_success\":\(saved(statusFiles.success)),\"last_error\":\(saved(statusFiles.failure))}\n")
            output.flush()
        case .submit:
            let spool: Spool
            do throws(SpoolError) {
                spool = try Spool(directory: options.dshield.spool, log: log)
            } catch {
                throw SensorError.runtime(error.description)
            }
            let config = try loadConfig(options.dshield.configFile ?? "")
            let submitter = try makeSubmitter(config: config, url: options.dshield.url, spool: spool)
            let result = submitter.submitPendingBlocking()
            let line = statusLine(
                time: Date(), submitted: submitter.recordsSubmitted, expired: submitter.recordsExpired,
                rejected: submitter.recordsRejected, spool: spool,
                result: result, failure: submitter.lastFailure, next: nil)
            writeStatus(line, result: result, spool: options.dshield.spool)
            output.write(line + "\n")
            output.flush()
            switch result {
            case .success(.done): break
            case .success(.retry(let after)):
                throw SensorError.runtime(
                    "submission failed; \(((try? spool.pendingRecords) ?? 0)) records stay spooled; retry in \(after.components.seconds) s"
                )
            case .failure(let error): throw SensorError.runtime(error.description)
            }
        }
    }

    /// The submitter for a `dshield.ini`, posting to `url` when given (else the file's
    /// `submiturl`, else DShield's).
    ///
    /// - Throws: `SensorError.usage` for a URL that is not http or https with a host;
    ///   `.runtime` for a dshield.ini without `userid` or `apikey`, which every POST needs (a
    ///   clear message now rather than a refusal from DShield at the first submission).
    static func makeSubmitter(config: DShieldConfig, url option: String?, spool: Spool) throws(SensorError) -> Submitter
    {
        let url: URL
        if let text = option ?? config.submitURL {
            let name = option == nil ? "submiturl in the dshield.ini" : "--dshield-url"
            guard let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
                !(parsed.host ?? "").isEmpty
            else { throw SensorError.usage("\(name): '\(text)' is not an http or https URL with a host") }
            url = parsed
        } else {
            url = SubmitterConfiguration.officialURL
        }
        guard config.userID > 0 else {
            throw SensorError.runtime("dshield.ini: no userid (the number of your DShield account) in [DShield]")
        }
        guard !config.apiKey.isEmpty else {
            throw SensorError.runtime("dshield.ini: no apikey (from your DShield account page) in [DShield]")
        }
        // ISC asks API clients for contact information in the User-Agent.
        let contact = config.email.isEmpty ? "" : "; " + config.email
        return Submitter(
            configuration: SubmitterConfiguration(
                url: url, userID: config.userID, apiKey: config.apiKey,
                userAgent: "ScanTap/\(Sensor.version) (libpcap scan sensor\(contact))",
                maximumRecordAge: .seconds(config.maximumRecordAgeSeconds ?? 86_400), localCopy: config.localCopy),
            spool: spool, log: log)
    }

    /// The JSON line that `submit` prints and `status` shows as `last_submit`: one attempt's
    /// outcome. `next` (the live sensor's next attempt) is appended when known.
    static func statusLine(
        time: Date, submitted: Int, expired: Int, rejected: Int, spool: Spool,
        result: Result<SubmissionOutcome, SpoolError>,
        failure: String?, next: Date?
    ) -> String {
        var line =
            "{\"event\":\"submit\",\"time\":\(Int64(time.timeIntervalSince1970)),\"submitted\":\(submitted),"
            + "\"expired\":\(expired),\"rejected\":\(rejected),\"pending_records\":\(((try? spool.pendingRecords) ?? 0)),"
            + "\"possible_duplicates\":\(spool.possibleDuplicates)"
        switch result {
        case .success(.done): line += ",\"outcome\":\"done\""
        case .success(.retry(let after)):
            line +=
                ",\"outcome\":\"retry\",\"retry_after\":\(after.components.seconds),\"error\":\(jsonString(failure ?? "unknown"))"
        case .failure(let error): line += ",\"outcome\":\"error\",\"error\":\(jsonString(error.description))"
        }
        if let next { line += ",\"next_attempt\":\(Int64(next.timeIntervalSince1970.rounded(.up)))" }
        return line + "}"
    }

    /// Replaces the status files atomically (`status` never reads half a line): the latest
    /// attempt's, and the latest success's or failure's.
    static func writeStatus(_ line: String, result: Result<SubmissionOutcome, SpoolError>, spool directory: String) {
        let kept = (try? result.get()) == .done ? statusFiles.success : statusFiles.failure
        for file in [statusFiles.latest, kept] {
            try? Data((line + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/" + file), options: .atomic)
        }
    }

    private static func jsonString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
