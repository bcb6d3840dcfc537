internal import Glibc
internal import Synchronization
internal import WireFormat

/// A file-system failure in the spool, with the C library's message.
public struct SpoolError: Error, CustomStringConvertible, Sendable {
    /// The failing call (`open`, `write`, `fsync`, `rename`, …).
    public let function: String
    public let path: String
    /// `strerror` text of the call's errno.
    public let message: String
    /// For a failed `append`: how many of its records, from the first, were made durable before
    /// the failure. They are in the spool and must not be appended again (they would be sent
    /// twice). Zero for every other operation.
    public internal(set) var recordsStored = 0

    init(_ function: String, path: String, errno code: Int32 = errno) {
        self.init(function, path: path, message: String(cString: strerror(code)))
    }

    init(_ function: String, path: String, message: String) {
        self.function = function
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(function): \(message)" }
}

/// Tunables of the spool, each with its reason.
public struct SpoolConfiguration: Sendable {
    /// Records per batch file, and so per POST. 10,000 records is about 1.3 MB of JSON, far below
    /// the 100,000-line run the official sensor posts at once, and it bounds what a crash between
    /// a POST and its bookkeeping can duplicate.
    public var batchRecordLimit: Int
    /// Bytes the spool may hold. At about 60 bytes a record, 64 MiB is over a million records —
    /// days of a busy sensor with DShield unreachable — and still small for any disk. Past it the
    /// oldest batches are dropped: they would soon pass the 24-hour age limit anyway.
    public var maximumBytes: Int

    public init(batchRecordLimit: Int = 10_000, maximumBytes: Int = 64 << 20) {
        self.batchRecordLimit = batchRecordLimit
        self.maximumBytes = maximumBytes
    }
}

/// A sealed batch of records waiting for submission.
public struct SpoolBatch: Sendable {
    /// Increasing with age; batches are sent oldest first.
    public let sequence: Int
    public let records: [DShieldRecord]
    /// An earlier POST of this batch may have reached DShield (a crash or a lost response
    /// interrupted it), so sending it again may duplicate up to `records.count` records.
    public let wasInFlight: Bool
}

/// The on-disk queue between the flow table and the network: nothing is posted that was not
/// first made durable here, and nothing leaves it until DShield accepted it.
///
/// Layout of the directory (created mode 0700):
/// - `open.spool` — records being collected, appended and `fsync`ed before `append` returns;
/// - `batch-<sequence>.spool` — a sealed batch, made by renaming `open.spool` (atomic);
/// - `batch-<sequence>.sending` — a batch claimed for a POST: deleted once DShield answered 200,
///   renamed back to `.spool` when it answered with an error (so it was not stored), left as it
///   is when no answer came (it may have been stored).
///
/// Every rename and deletion is followed by an `fsync` of the directory, so it survives a power
/// cut. After a crash at any moment, a record whose `append` returned is in exactly one file; a
/// torn last line in `open.spool` (a write the crash interrupted, never acknowledged) is cut off
/// on reopening. A `.sending` batch found on reopening is sent again: duplicates are at most one
/// batch, and are counted and logged. Each record is one line:
/// `time TAB sip TAB sport TAB dip TAB dport TAB proto TAB flags` (flags as their byte's value).
///
/// One `Spool` owns its directory: it holds an exclusive `flock` on it while it lives, so a
/// second process (a `dshield submit` by hand while `live` runs) is refused instead of sealing
/// the file the first one is appending to. `pendingRecords(inDirectory:)` counts without owning.
/// Its operations are serialised by a lock, so `live` appends from one thread while its
/// submitter claims and completes batches on another.
public final class Spool: @unchecked Sendable {
    // @unchecked: every mutable property is reached only by the methods below, each of which
    // holds `serial` for its whole run.
    public let directory: String
    public let configuration: SpoolConfiguration
    private let log: (String) -> Void
    private let serial = Mutex(())

    /// Records dropped to keep the spool within `maximumBytes`.
    public var droppedRecords: Int { serial.withLock { _ in dropped } }
    /// Records sent again after a crash interrupted their batch's POST (possible duplicates).
    public var possibleDuplicates: Int { serial.withLock { _ in resent } }

    private var dropped = 0
    private var resent = 0
    /// The directory, open for the ownership lock and for syncing renames.
    private var directoryDescriptor: Int32 = -1
    private var openDescriptor: Int32 = -1
    private var openRecords = 0
    private var nextSequence = 1

    private var openPath: String { directory + "/open.spool" }

    /// Opens (or creates) the spool in `directory`, repairing what a crash left.
    ///
    /// - Parameter log: where loud warnings go (dropped batches, resent batches).
    /// - Throws: `SpoolError` when the directory or its files cannot be created, read or synced,
    ///   or when another process owns the spool.
    public init(
        directory: String, configuration: SpoolConfiguration = SpoolConfiguration(), log: @escaping (String) -> Void
    ) throws(SpoolError) {
        self.directory = directory
        self.configuration = configuration
        self.log = log
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw SpoolError("mkdir", path: directory) }
        directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw SpoolError("open", path: directory) }
        // Released by the kernel when the process dies, however it dies.
        guard flock(directoryDescriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(directoryDescriptor)
            directoryDescriptor = -1
            if code == EWOULDBLOCK {
                throw SpoolError("flock", path: directory, message: "in use by another scantap process")
            }
            throw SpoolError("flock", path: directory, errno: code)
        }
        for file in try listing() {
            if let sequence = Self.sequence(of: file) { nextSequence = max(nextSequence, sequence + 1) }
        }
        try reopenCollecting()
    }

    deinit {
        if openDescriptor >= 0 { close(openDescriptor) }
        if directoryDescriptor >= 0 { close(directoryDescriptor) }
    }

    /// Records waiting in `directory`, counted without taking the spool over: what
    /// `dshield status` shows while `live` owns the spool. A line still being written is not
    /// counted, nor a batch that vanishes (submitted) while the files are read.
    public static func pendingRecords(inDirectory directory: String) throws(SpoolError) -> Int {
        var total = 0
        for file in try listing(directory) where file == "open.spool" || sequence(of: file) != nil {
            total += decode(try readAll(directory + "/" + file, missingIsEmpty: true)[...]).count
        }
        return total
    }

    /// Appends records durably: when this returns they survive a crash. A batch is sealed each
    /// time it reaches `batchRecordLimit`; then the spool is kept within `maximumBytes`.
    ///
    /// - Throws: `SpoolError` when a write or sync fails; its `recordsStored` says how many
    ///   records, from the first, are in the spool all the same. A seal or a drop that fails once
    ///   the records are durable is logged instead: the records are safe, and the next append or
    ///   `seal()` tries again.
    public func append(_ records: [DShieldRecord]) throws(SpoolError) {
        try serialised { () throws(SpoolError) in try appendAll(records) }
    }

    /// Turns the records collected so far into a batch ready to send (a scheduled submission
    /// calls this first). Nothing happens when none were collected.
    public func seal() throws(SpoolError) {
        try serialised { () throws(SpoolError) in try sealOpen() }
    }

    /// Records waiting in sealed batches and in the open file.
    public var pendingRecords: Int {
        get throws(SpoolError) {
            try serialised { () throws(SpoolError) in
                var total = openRecords
                for file in try listing() where Self.sequence(of: file) != nil {
                    total += try read(directory + "/" + file).count
                }
                return total
            }
        }
    }

    /// The oldest batch, claimed for sending (renamed to `.sending` and synced), or nil.
    public func claimOldestBatch() throws(SpoolError) -> SpoolBatch? {
        try serialised { () throws(SpoolError) in try claimOldest() }
    }

    /// Returns a claimed batch to the queue after DShield refused it with an HTTP error (so it
    /// holds none of it).
    public func release(_ batch: SpoolBatch) throws(SpoolError) {
        try serialised { () throws(SpoolError) in
            let path = batchPath(batch.sequence, sending: true)
            guard rename(path, batchPath(batch.sequence, sending: false)) == 0 else {
                throw SpoolError("rename", path: path)
            }
            try syncDirectory()
        }
    }

    /// Moves a claimed batch DShield refused for good to `rejected/` in the spool directory
    /// (created mode 0700), where it is kept for the operator to look at and never sent again.
    public func reject(_ batch: SpoolBatch) throws(SpoolError) {
        try serialised { () throws(SpoolError) in
            let rejected = directory + "/rejected"
            if mkdir(rejected, 0o700) != 0 && errno != EEXIST { throw SpoolError("mkdir", path: rejected) }
            let path = batchPath(batch.sequence, sending: true)
            guard rename(path, rejected + "/" + batchFile(batch.sequence, sending: false)) == 0 else {
                throw SpoolError("rename", path: path)
            }
            // Both directories changed: the batch left one and entered the other.
            try syncDirectory()
            let fd = open(rejected, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw SpoolError("open", path: rejected) }
            defer { close(fd) }
            guard fsync(fd) == 0 else { throw SpoolError("fsync", path: rejected) }
        }
    }

    /// Forgets a batch DShield accepted (or that had nothing left worth sending).
    public func complete(_ batch: SpoolBatch) throws(SpoolError) {
        try serialised { () throws(SpoolError) in
            let path = batchPath(batch.sequence, sending: true)
            guard unlink(path) == 0 || errno == ENOENT else { throw SpoolError("unlink", path: path) }
            try syncDirectory()
        }
    }

    private func serialised<Result: Sendable>(_ body: () throws(SpoolError) -> Result) throws(SpoolError) -> Result {
        try serial.withLock { (_: inout ()) throws(SpoolError) -> Result in try body() }
    }

    // MARK: - Operations, called with `serial` held

    private func appendAll(_ records: [DShieldRecord]) throws(SpoolError) {
        var stored = 0
        do throws(SpoolError) {
            var rest = records[...]
            while !rest.isEmpty {
                // No open file when reopening it failed after a seal; full already when an
                // earlier seal failed, or when the spool was reopened with a smaller
                // `batchRecordLimit`: seal before adding to it.
                if openDescriptor < 0 { try reopenCollecting() }
                if openRecords >= configuration.batchRecordLimit { try sealOpen() }
                let part = rest.prefix(configuration.batchRecordLimit - openRecords)
                try appendDurably(part)
                rest = rest.dropFirst(part.count)
                stored += part.count
            }
        } catch {
            var error = error
            error.recordsStored = stored
            throw error
        }
        if openRecords >= configuration.batchRecordLimit {
            do throws(SpoolError) { try sealOpen() } catch {
                log(
                    "DShield spool: cannot seal a full batch (\(error)); its records are kept and sealing is tried again"
                )
            }
        }
        enforceBound()
    }

    /// Writes and syncs `part` to the open file. On failure the file is cut back to where it
    /// ended, so a partial write (a full disk) leaves no torn bytes for the next record to be
    /// glued to.
    private func appendDurably(_ part: ArraySlice<DShieldRecord>) throws(SpoolError) {
        var bytes: [UInt8] = []
        for record in part { Self.encode(record, into: &bytes) }
        var info = stat()
        guard fstat(openDescriptor, &info) == 0 else { throw SpoolError("fstat", path: openPath) }
        do throws(SpoolError) {
            try Self.writeAll(bytes, to: openDescriptor, path: openPath)
            guard fsync(openDescriptor) == 0 else { throw SpoolError("fsync", path: openPath) }
        } catch {
            // Best effort: if this fails too, reopening cuts the torn line.
            _ = ftruncate(openDescriptor, info.st_size)
            throw error
        }
        openRecords += part.count
    }

    /// Renames the open file to the next batch and opens a new one. Whatever fails, an open
    /// file is left for the next append (or the failure is thrown again by that append).
    private func sealOpen() throws(SpoolError) {
        if openDescriptor < 0 { try reopenCollecting() }
        guard openRecords > 0 else { return }
        // The descriptor stays valid across the rename, so a failed rename leaves appends
        // going to `open.spool` as before.
        guard rename(openPath, batchPath(nextSequence, sending: false)) == 0 else {
            throw SpoolError("rename", path: openPath)
        }
        nextSequence += 1
        close(openDescriptor)
        openDescriptor = -1
        openRecords = 0
        var failure: SpoolError? = nil
        do throws(SpoolError) { try syncDirectory() } catch { failure = error }
        try reopenCollecting()
        if let failure { throw failure }
    }

    private func claimOldest() throws(SpoolError) -> SpoolBatch? {
        guard let (sequence, file) = try batches().first else { return nil }
        let wasInFlight = file.hasSuffix(".sending")
        let records = try read(directory + "/" + file)
        if wasInFlight {
            resent += records.count
            log(
                "DShield spool: an earlier POST of batch \(sequence) may have reached DShield (crash or lost response); sending it again: up to \(records.count) duplicate records, \(resent) so far"
            )
        } else {
            guard rename(directory + "/" + file, batchPath(sequence, sending: true)) == 0 else {
                throw SpoolError("rename", path: file)
            }
            try syncDirectory()
        }
        return SpoolBatch(sequence: sequence, records: records, wasInFlight: wasInFlight)
    }

    // MARK: - Files

    /// Sealed and claimed batches, oldest first.
    private func batches() throws(SpoolError) -> [(Int, String)] {
        try listing().compactMap { file in Self.sequence(of: file).map { ($0, file) } }.sorted { $0.0 < $1.0 }
    }

    private func batchPath(_ sequence: Int, sending: Bool) -> String {
        directory + "/" + batchFile(sequence, sending: sending)
    }

    private func batchFile(_ sequence: Int, sending: Bool) -> String {
        // Zero-padded so a directory listing sorts by age too.
        let digits = String(sequence)
        return "batch-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
            + (sending ? ".sending" : ".spool")
    }

    private static func sequence(of file: String) -> Int? {
        guard file.hasPrefix("batch-") else { return nil }
        let stem = file.dropFirst(6)
        guard let dot = stem.firstIndex(of: "."), [".spool", ".sending"].contains(String(stem[dot...])) else {
            return nil
        }
        return Int(stem[..<dot])
    }

    private func listing() throws(SpoolError) -> [String] { try Self.listing(directory) }

    private static func listing(_ directory: String) throws(SpoolError) -> [String] {
        guard let handle = opendir(directory) else { throw SpoolError("opendir", path: directory) }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Opens `open.spool` for appending, cutting a torn last line a crash left.
    private func reopenCollecting() throws(SpoolError) {
        if openDescriptor >= 0 {
            close(openDescriptor)
            openDescriptor = -1
        }
        let fd = open(openPath, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("open", path: openPath) }
        openDescriptor = fd
        let bytes = try Self.readAll(openPath)
        let complete = bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        if complete < bytes.count {
            guard ftruncate(fd, off_t(complete)) == 0, fsync(fd) == 0 else {
                throw SpoolError("ftruncate", path: openPath)
            }
            log("DShield spool: cut \(bytes.count - complete) bytes of a record torn by a crash (never acknowledged)")
        }
        openRecords = Self.decode(bytes[..<complete]).count
        try syncDirectory()
    }

    /// Drops the oldest sealed batches while the spool is over `maximumBytes`, loudly. A batch
    /// being sent (`.sending`) is never dropped: its POST is in progress, and a 200 for it would
    /// then complete nothing while an error would have nothing to release. Failures are logged,
    /// not thrown: the append that called this has stored its records, and the next one tries
    /// again.
    private func enforceBound() {
        do throws(SpoolError) {
            var total = try listing().reduce(0) { sum, file in sum + fileSize(directory + "/" + file) }
            guard total > configuration.maximumBytes else { return }
            func waiting() throws(SpoolError) -> [(Int, String)] { try batches().filter { $0.1.hasSuffix(".spool") } }
            if try waiting().isEmpty { try sealOpen() }
            for (sequence, file) in try waiting() where total > configuration.maximumBytes {
                let path = directory + "/" + file
                let size = fileSize(path)
                let count = try read(path).count
                guard unlink(path) == 0 else { throw SpoolError("unlink", path: path) }
                total -= size
                dropped += count
                log(
                    "DShield spool FULL (over \(configuration.maximumBytes) bytes): dropped batch \(sequence), \(count) records, oldest first; \(dropped) records dropped so far"
                )
            }
            try syncDirectory()
        } catch {
            log("DShield spool FULL (over \(configuration.maximumBytes) bytes) and cannot drop batches: \(error)")
        }
    }

    private func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    private func read(_ path: String) throws(SpoolError) -> [DShieldRecord] {
        Self.decode(try Self.readAll(path)[...])
    }

    /// - Parameter missingIsEmpty: a file that does not exist reads as empty (a batch completed
    ///   while another process was counting).
    private static func readAll(_ path: String, missingIsEmpty: Bool = false) throws(SpoolError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 && errno == ENOENT && missingIsEmpty { return [] }
        guard fd >= 0 else { throw SpoolError("open", path: path) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw SpoolError("read", path: path) }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<n])
        }
    }

    /// Writes every byte, going on after a short write or an interrupted call.
    static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(SpoolError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SpoolError("write", path: path) }
            offset += n
        }
    }

    /// Makes renames and deletions in the directory durable.
    private func syncDirectory() throws(SpoolError) {
        guard fsync(directoryDescriptor) == 0 else { throw SpoolError("fsync", path: directory) }
    }

    // MARK: - Record lines

    static func encode(_ r: DShieldRecord, into bytes: inout [UInt8]) {
        let fields = [
            String(r.time), r.source.description, String(r.sourcePort), r.destination.description,
            String(r.destinationPort), String(r.ipProtocol), String(r.tcpFlags.rawValue),
        ]
        bytes.append(contentsOf: fields.joined(separator: "\t").utf8)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Every well-formed complete line; a damaged one (which only outside interference can make)
    /// is skipped, and so is a last line without its newline (still being written, or torn).
    static func decode(_ bytes: ArraySlice<UInt8>) -> [DShieldRecord] {
        let complete = bytes[..<(bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? bytes.startIndex)]
        return complete.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let f = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            guard f.count == 7, let time = Int64(f[0]), let source = IPAddress(f[1]), let sport = UInt16(f[2]),
                let destination = IPAddress(f[3]), let dport = UInt16(f[4]), let proto = UInt8(f[5]),
                let flags = UInt8(f[6])
            else { return nil }
            return DShieldRecord(
                time: time, source: source, sourcePort: sport, destination: destination, destinationPort: dport,
                ipProtocol: proto, tcpFlags: TCPFlags(rawValue: flags))
        }
    }
}
