import Dispatch
import Testing
import WireFormat

@testable import ScanDetection

/// Hammers the table from several threads with known traffic and checks exact counts. Run by
/// the test script a second time under ThreadSanitizer.
@Suite struct SourceTableConcurrencyTests {
    static let threads = 4
    static let sources = 64
    static let portsPerThread = 100
    static let repetitions = 5

    @Test func concurrentUpdatesFromFourThreadsGiveExactPerSourceCounts() throws {
        var configuration = DetectorConfiguration()
        configuration.maxSources = 1024
        configuration.unansweredContactsToDeclare = .max  // keep every source undeclared
        let detector = ScanDetector(configuration: configuration)
        let target = IPAddress("198.18.1.1")!

        DispatchQueue.concurrentPerform(iterations: Self.threads) { thread in
            for repetition in 0..<Self.repetitions {
                for s in 0..<Self.sources {
                    let source = Traffic.host(256 + s)
                    for i in 0..<Self.portsPerThread {
                        let port = UInt16(thread * Self.portsPerThread + i)
                        _ = detector.process(Traffic.tcp(source, 40000, target, port, .syn, at: Double(repetition)))
                        // Every other port answers with a SYN/ACK: an outcome racing other threads.
                        if i % 2 == 0 {
                            _ = detector.process(Traffic.tcp(target, port, source, 40000, [.syn, .ack]))
                        }
                    }
                }
            }
        }

        let table = detector.table
        let allPorts = (0..<(Self.threads * Self.portsPerThread)).map { UInt16($0) }
        let distinctPairs = Set(allPorts.map { table.pairIndex(host: target, port: $0) }).count
        let distinctAnswered = Set(allPorts.filter { $0 % 2 == 0 }.map { table.pairIndex(host: target, port: $0) })
            .count
        let distinctPortBits = Set(allPorts.map { table.portIndex($0) }).count
        #expect(table.insertions == Self.sources)
        for s in 0..<Self.sources {
            let slot = try #require(table.find(Traffic.host(256 + s)))
            let snapshot = try #require(table.snapshot(slot))
            #expect(snapshot.probes == Self.threads * Self.portsPerThread * Self.repetitions)
            #expect(snapshot.rawSYNs == snapshot.probes)
            #expect(snapshot.contacts == distinctPairs)
            #expect(snapshot.successes == distinctAnswered)
            #expect(snapshot.lastSeen == Traffic.time(Double(Self.repetitions - 1)))
            var ones = 0
            for w in 0..<SourceTable.bitmapWords {
                ones += table.load(slot, SourceTable.Field.portBitmap + w).nonzeroBitCount
            }
            #expect(ones == distinctPortBits)
            #expect(snapshot.portSample.count == DetectorConfiguration.portSampleSize)
        }
    }
}
