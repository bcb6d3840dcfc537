public import Foundation

#if canImport(FoundationNetworking)
    internal import FoundationNetworking
#endif

/// Tunables of the submitter, each with its reason.
public struct SubmitterConfiguration: Sendable {
    /// The official client's endpoint; a test receiver or `devsubmitapi` can replace it (the
    /// official client has no such key, reference §7).
    public static let officialURL = URL(string: "https://www.dshield.org/submitapi/")!

    public var url: URL
    public var userID: Int
    /// The secret; only ever the HMAC message, never printed.
    public var apiKey: String
    /// Descriptive, with the version, as ISC asks of API clients (reference §2.1, §5).
    public var userAgent: String
    /// Records older than this at submission time are not sent: the official sensor never sends
    /// more than 24 hours of backlog (reference §3.2).
    public var maximumRecordAge: Duration
    /// First wait after a failed POST; doubled per consecutive failure. A minute lets a brief
    /// outage pass without hammering a server that is struggling.
    public var initialBackoff: Duration
    /// The longest wait between attempts: an hour, twice the official sensor's schedule.
    public var maximumBackoff: Duration
    /// Wait after a 429 without a usable `Retry-After`: ISC's API documentation asks for five
    /// minutes. A `Retry-After` longer than `maximumBackoff` is cut to it, so a wrong header
    /// cannot park the records past their 24-hour age limit.
    public var defaultRetryAfter: Duration
    /// How long one POST may take before it counts as failed.
    public var requestTimeout: Duration
    /// dshield.ini's `localcopy`: a file each JSON body DShield accepted (HTTP 200) is appended
    /// to, one per line. The official client appends every body it posts, accepted or not; here
    /// a refused batch is posted again later, so copying every attempt would repeat records.
    public var localCopy: String?

    public init(
        url: URL = officialURL, userID: Int, apiKey: String, userAgent: String,
        maximumRecordAge: Duration = .seconds(86_400), initialBackoff: Duration = .seconds(60),
        maximumBackoff: Duration = .seconds(3600), defaultRetryAfter: Duration = .seconds(300),
        requestTimeout: Duration = .seconds(60), localCopy: String? = nil
    ) {
        self.url = url
        self.userID = userID
        self.apiKey = apiKey
        self.userAgent = userAgent
        self.maximumRecordAge = maximumRecordAge
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.defaultRetryAfter = defaultRetryAfter
        self.requestTimeout = requestTimeout
        self.localCopy = localCopy
    }
}

/// What a submission round ended with.
public enum SubmissionOutcome: Sendable, Equatable {
    /// Every sealed batch was accepted; submit again at the next scheduled time.
    case done
    /// A POST failed or was refused; call again after this long (backoff or `Retry-After`).
    case retry(after: Duration)
}

/// Posts the spool's batches to DShield's submitapi, oldest first, one batch per POST.
///
/// A batch leaves the spool only after an HTTP 200. An error status, or a connection that could
/// not be made, puts it back; a POST that got no answer (a timeout, a connection lost after
/// sending) leaves it marked in flight, so its resending is counted as possible duplicates
/// (at most that one batch).
///
/// A status that says the batch itself is refused (a 4xx other than 401, 403, 408 and 429) moves
/// it aside to the spool's `rejected/` directory, loudly: posted again it would be refused again
/// and hold up every batch behind it. Only one batch a round is moved aside; when the next is
/// refused the same way, the cause is more likely the configuration or the server than the
/// batches (submitapi's error statuses are undocumented), so it is put back and the round backs
/// off. Every POST carries a fresh nonce. Scheduling is the caller's: it
/// calls `submitPending(now:)` on the wall clock (twice an hour, as the official sensor does)
/// and again after a `.retry` delay.
public final class Submitter {
    public let configuration: SubmitterConfiguration
    private let spool: Spool
    private let log: (String) -> Void
    private let session: URLSession
    private var consecutiveFailures = 0

    /// Records accepted by DShield.
    public private(set) var recordsSubmitted = 0
    /// Records dropped at submission for being older than `maximumRecordAge`.
    public private(set) var recordsExpired = 0
    /// Records in batches DShield refused for good, moved to the spool's `rejected/` directory.
    public private(set) var recordsRejected = 0
    /// Why the latest round ended in `.retry` (an HTTP status, a connection error); nil after
    /// a round that delivered everything.
    public private(set) var lastFailure: String?

    public init(configuration: SubmitterConfiguration, spool: Spool, log: @escaping (String) -> Void) {
        self.configuration = configuration
        self.spool = spool
        self.log = log
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.timeoutIntervalForRequest = Double(configuration.requestTimeout.components.seconds)
        session = URLSession(configuration: sessionConfiguration)
    }

    /// Seals the records collected so far and posts every batch, oldest first.
    ///
    /// - Parameter now: the wall clock, for the age limit.
    /// - Throws: `SpoolError` when the spool itself fails (the disk, not the network).
    public func submitPending(now: Date = Date()) async throws(SpoolError) -> SubmissionOutcome {
        try spool.seal()
        let oldestAllowed = Int64(now.timeIntervalSince1970) - configuration.maximumRecordAge.components.seconds
        var rejectedThisRound = false
        while let batch = try spool.claimOldestBatch() {
            let fresh = batch.records.filter { $0.time >= oldestAllowed }
            if fresh.count < batch.records.count {
                recordsExpired += batch.records.count - fresh.count
                log(
                    "DShield: \(batch.records.count - fresh.count) records of batch \(batch.sequence) older than the age limit not sent"
                )
            }
            if fresh.isEmpty {
                try spool.complete(batch)
                continue
            }
            switch await post(fresh) {
            case .accepted(let body):
                keepLocalCopy(body)
                consecutiveFailures = 0
                lastFailure = nil
                recordsSubmitted += fresh.count
                try spool.complete(batch)
            case .refused(let status, _) where Self.refusesForGood(status) && !rejectedThisRound:
                try spool.reject(batch)
                rejectedThisRound = true
                recordsRejected += fresh.count
                log(
                    "DShield REFUSED batch \(batch.sequence) with HTTP \(status): \(fresh.count) records moved to \(spool.directory)/rejected/ and not sent again (move the file back into the spool to retry it); \(recordsRejected) records rejected so far"
                )
            case .refused(let status, let retryAfter):
                try spool.release(batch)
                let wait =
                    status == 429
                    ? min(retryAfter ?? configuration.defaultRetryAfter, configuration.maximumBackoff) : backoff()
                lastFailure = "HTTP \(status)"
                log("DShield: submission refused with HTTP \(status); \(fresh.count) records kept, retrying in \(wait)")
                return .retry(after: wait)
            case .notDelivered(let reason):
                try spool.release(batch)
                let wait = backoff()
                lastFailure = reason
                log("DShield: submission failed (\(reason)); \(fresh.count) records kept, retrying in \(wait)")
                return .retry(after: wait)
            case .noAnswer(let reason):
                let wait = backoff()
                lastFailure = reason
                log("DShield: submission failed (\(reason)); \(fresh.count) records kept, retrying in \(wait)")
                return .retry(after: wait)
            }
        }
        lastFailure = nil
        return .done
    }

    /// Whether an HTTP status refuses the batch itself, so that sending it again cannot help:
    /// a 4xx, except an authentication problem the operator can fix (401, 403), a timeout (408)
    /// and a rate limit (429).
    static func refusesForGood(_ status: Int) -> Bool {
        (400..<500).contains(status) && ![401, 403, 408, 429].contains(status)
    }

    /// URL errors that happen before any byte of the request is sent: the address is unusable,
    /// the name does not resolve, no connection or no TLS session could be made. Everything else
    /// (a timeout, a connection lost) may have delivered the request.
    private static let notSentErrors: Set<URLError.Code> = [
        .badURL, .unsupportedURL, .cannotFindHost, .dnsLookupFailed, .cannotConnectToHost, .notConnectedToInternet,
        .secureConnectionFailed, .serverCertificateHasBadDate, .serverCertificateUntrusted,
        .serverCertificateHasUnknownRoot,
        .serverCertificateNotYetValid, .clientCertificateRejected, .clientCertificateRequired,
    ]

    private enum PostResult {
        /// DShield took the batch; the body it took.
        case accepted(body: String)
        case refused(status: Int, retryAfter: Duration?)
        /// The request cannot have reached the server (no connection was made).
        case notDelivered(String)
        /// The request may have reached the server, but no answer came.
        case noAnswer(String)
    }

    private func post(_ records: [DShieldRecord]) async -> PostResult {
        let authorization: ISCAuthorization
        do {
            authorization = try ISCAuthorization.fresh(userID: configuration.userID, apiKey: configuration.apiKey)
        } catch {
            return .notDelivered("signing: \(error)")
        }
        var request = URLRequest(url: configuration.url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(configuration.userAgent, forHTTPHeaderField: "User-Agent")
        request.setValue(authorization.headerValue, forHTTPHeaderField: "X-ISC-Authorization")
        request.setValue(DShieldJSONFormat.logType, forHTTPHeaderField: "X-ISC-LogType")
        let body = DShieldJSONFormat.body(records, authorization: authorization)
        request.httpBody = Data(body.utf8)
        do {
            let (_, response) = try await session.data(for: request)
            guard let http = response as? HTTPURLResponse else { return .noAnswer("not an HTTP response") }
            if http.statusCode == 200 { return .accepted(body: body) }
            // Retry-After in seconds; the HTTP-date form falls back to the default wait.
            let retryAfter = (http.value(forHTTPHeaderField: "Retry-After")).flatMap {
                Int64($0.trimmingCharacters(in: .whitespaces))
            }.map { Duration.seconds(max(0, $0)) }
            return .refused(status: http.statusCode, retryAfter: retryAfter)
        } catch let error as URLError where Self.notSentErrors.contains(error.code) {
            return .notDelivered(error.localizedDescription)
        } catch {
            return .noAnswer(error.localizedDescription)
        }
    }

    /// Appends an accepted body to `localCopy`. A copy that cannot be written is said in the log
    /// and does not hold up the submission: the records are DShield's already.
    private func keepLocalCopy(_ body: String) {
        guard let path = configuration.localCopy else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            log("DShield: localcopy \(path): \(String(cString: strerror(errno)))")
            return
        }
        defer { close(fd) }
        do throws(SpoolError) {
            try Spool.writeAll(Array((body + "\n").utf8), to: fd, path: path)
        } catch {
            log("DShield: localcopy \(error)")
        }
    }

    /// `initialBackoff` doubled per consecutive failure, at most `maximumBackoff`.
    private func backoff() -> Duration {
        consecutiveFailures += 1
        var wait = configuration.initialBackoff
        for _ in 1..<min(consecutiveFailures, 32) where wait < configuration.maximumBackoff { wait *= 2 }
        return min(wait, configuration.maximumBackoff)
    }
}
