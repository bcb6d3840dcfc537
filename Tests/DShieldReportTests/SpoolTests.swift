import Foundation
import Testing
import WireFormat

@testable import DShieldReport

/// A fresh directory under the system temporary directory.
func temporaryDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "scantap-\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func sampleRecords(_ count: Int, from start: Int = 0) -> [DShieldRecord] {
    (start..<(start + count)).map { (i: Int) -> DShieldRecord in
        let udp = i % 3 == 0
        let flags: TCPFlags = udp ? [] : [.syn, .ece]
        return record(
            "198.51.100.\(i % 250 + 1)", UInt16(40000 + i), UInt16(i % 1024), proto: udp ? 17 : 6, flags: flags,
            time: exampleTime + Int64(i))
    }
}

final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }
    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}

@Suite struct SpoolTests {
    @Test func appendedRecordsAreStillThereAfterReopening() throws {
        let dir = temporaryDirectory("spool")
        let records = sampleRecords(25) + [record("2001:db8::1", 0, 65535, proto: 6, flags: .syn)]
        do {
            let spool = try Spool(
                directory: dir, configuration: SpoolConfiguration(batchRecordLimit: 10), log: { _ in })
            try spool.append(records)
        }
        let reopened = try Spool(directory: dir, configuration: SpoolConfiguration(batchRecordLimit: 10), log: { _ in })
        #expect(try reopened.pendingRecords == records.count)
        try reopened.seal()
        var back: [DShieldRecord] = []
        while let batch = try reopened.claimOldestBatch() {
            back += batch.records
            try reopened.complete(batch)
        }
        #expect(back == records)
    }

    @Test func aRecordTornByACrashIsCutAndTheRestKept() throws {
        let dir = temporaryDirectory("torn")
        do { try Spool(directory: dir, log: { _ in }).append(sampleRecords(3)) }
        let handle = FileHandle(forWritingAtPath: dir + "/open.spool")!
        handle.seekToEndOfFile()
        handle.write(Data("1772373909\t198.51".utf8))
        try handle.close()
        let log = LogLines()
        let spool = try Spool(directory: dir, log: log.append)
        #expect(try spool.pendingRecords == 3)
        try spool.append(sampleRecords(1, from: 3))
        try spool.seal()
        #expect(try spool.claimOldestBatch()?.records == sampleRecords(4))
        #expect(log.all.count == 1)
    }

    @Test func aBatchInFlightAtACrashIsSentAgainAndCountedAsPossibleDuplicates() throws {
        let dir = temporaryDirectory("inflight")
        do {
            let spool = try Spool(directory: dir, log: { _ in })
            try spool.append(sampleRecords(4))
            try spool.seal()
            _ = try spool.claimOldestBatch()  // the POST starts; the process dies before completing
        }
        let log = LogLines()
        let spool = try Spool(directory: dir, log: log.append)
        let batch = try #require(try spool.claimOldestBatch())
        #expect(batch.wasInFlight && batch.records.count == 4 && spool.possibleDuplicates == 4)
        #expect(log.all.first?.contains("up to 4 duplicate records") == true)
        try spool.complete(batch)
        #expect(try spool.claimOldestBatch() == nil)
    }

    @Test func aRefusedBatchGoesBackToTheQueueWithoutCountingDuplicates() throws {
        let spool = try Spool(directory: temporaryDirectory("release"), log: { _ in })
        try spool.append(sampleRecords(2))
        try spool.seal()
        try spool.release(try #require(try spool.claimOldestBatch()))
        let again = try #require(try spool.claimOldestBatch())
        #expect(!again.wasInFlight && again.records.count == 2 && spool.possibleDuplicates == 0)
    }

    @Test func aFullSpoolDropsTheOldestBatchesLoudly() throws {
        let log = LogLines()
        // About 45 bytes a line: 10-record batches of ~450 bytes, at most ~2 kB kept.
        let spool = try Spool(
            directory: temporaryDirectory("bound"),
            configuration: SpoolConfiguration(batchRecordLimit: 10, maximumBytes: 2000), log: log.append)
        for i in 0..<10 { try spool.append(sampleRecords(10, from: i * 10)) }
        #expect(spool.droppedRecords > 0 && spool.droppedRecords % 10 == 0)
        #expect(try spool.pendingRecords == 100 - spool.droppedRecords)
        let oldest = try #require(try spool.claimOldestBatch())
        #expect(oldest.records.first == sampleRecords(1, from: spool.droppedRecords).first)
        #expect(log.all.allSatisfy { $0.contains("FULL") && $0.contains("oldest first") })
    }

    @Test func aBatchBeingSentIsNeverDroppedToKeepTheBound() throws {
        let dir = temporaryDirectory("bound-sending")
        let spool = try Spool(
            directory: dir, configuration: SpoolConfiguration(batchRecordLimit: 10, maximumBytes: 2000), log: { _ in })
        try spool.append(sampleRecords(10))
        let sending = try #require(try spool.claimOldestBatch())
        for i in 1..<10 { try spool.append(sampleRecords(10, from: i * 10)) }
        #expect(spool.droppedRecords > 0)
        #expect(FileManager.default.fileExists(atPath: dir + "/batch-000000000001.sending"))
        try spool.complete(sending)
    }

    @Test func aFailedSealLosesNothingAndLaterAppendsStillWork() throws {
        let dir = temporaryDirectory("seal")
        let log = LogLines()
        let spool = try Spool(directory: dir, configuration: SpoolConfiguration(batchRecordLimit: 5), log: log.append)
        // A non-empty directory where the first batch goes makes its rename fail.
        let blocker = dir + "/batch-000000000001.spool"
        try FileManager.default.createDirectory(atPath: blocker + "/x", withIntermediateDirectories: true)
        // The records are durable before the seal fails: the append succeeds, and the failure is
        // logged, so its caller does not append them again.
        try spool.append(sampleRecords(5))
        #expect(log.all.contains { $0.contains("cannot seal") })
        #expect(throws: SpoolError.self) { try spool.seal() }
        try FileManager.default.removeItem(atPath: blocker)
        try spool.append(sampleRecords(2, from: 5))
        try spool.seal()
        var back: [DShieldRecord] = []
        while let batch = try spool.claimOldestBatch() {
            back += batch.records
            try spool.complete(batch)
        }
        #expect(back == sampleRecords(7))
    }

    @Test func aSpoolReopenedWithASmallerBatchLimitSealsTheFullFileFirst() throws {
        let dir = temporaryDirectory("limit")
        do {
            try Spool(directory: dir, configuration: SpoolConfiguration(batchRecordLimit: 10), log: { _ in }).append(
                sampleRecords(6))
        }
        let spool = try Spool(directory: dir, configuration: SpoolConfiguration(batchRecordLimit: 3), log: { _ in })
        try spool.append(sampleRecords(4, from: 6))
        try spool.seal()
        var sizes: [Int] = []
        var back: [DShieldRecord] = []
        while let batch = try spool.claimOldestBatch() {
            sizes.append(batch.records.count)
            back += batch.records
            try spool.complete(batch)
        }
        #expect(sizes == [6, 3, 1] && back == sampleRecords(10))
    }

    @Test func aSecondOwnerOfTheDirectoryIsRefusedUntilTheFirstIsGone() throws {
        let dir = temporaryDirectory("owner")
        var first: Spool? = try Spool(directory: dir, log: { _ in })
        try first?.append(sampleRecords(2))
        #expect(throws: SpoolError.self) { try Spool(directory: dir, log: { _ in }) }
        // Counting needs no ownership: `dshield status` while `live` runs.
        #expect(try Spool.pendingRecords(inDirectory: dir) == 2)
        first = nil
        #expect(try Spool(directory: dir, log: { _ in }).pendingRecords == 2)
    }

    @Test func aLineStillBeingWrittenIsNotCountedFromOutside() throws {
        let dir = temporaryDirectory("count")
        let spool = try Spool(directory: dir, configuration: SpoolConfiguration(batchRecordLimit: 3), log: { _ in })
        try spool.append(sampleRecords(4))
        let handle = FileHandle(forWritingAtPath: dir + "/open.spool")!
        handle.seekToEndOfFile()
        handle.write(Data("1772373909\t198.51.100.1\t4000".utf8))
        try handle.close()
        #expect(try Spool.pendingRecords(inDirectory: dir) == 4)
    }

    @Test func appendsFromOneThreadWhileAnotherSubmitsLoseAndRepeatNothing() throws {
        let spool = try Spool(
            directory: temporaryDirectory("threads"), configuration: SpoolConfiguration(batchRecordLimit: 7),
            log: { _ in })
        let total = 600
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for start in stride(from: 0, to: total, by: 10) { try! spool.append(sampleRecords(10, from: start)) }
            done.signal()
        }
        var sent: [DShieldRecord] = []
        func drain() throws {
            try spool.seal()
            while let batch = try spool.claimOldestBatch() {
                sent += batch.records
                try spool.complete(batch)
            }
        }
        while done.wait(timeout: .now()) == .timedOut { try drain() }
        try drain()
        #expect(sent.count == total && Set(sent.map(\.sourcePort)).count == total)
    }
}
