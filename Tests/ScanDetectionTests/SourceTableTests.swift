import Testing
import WireFormat

@testable import ScanDetection

@Suite struct SourceTableTests {
    @Test func capacityIsRoundedUpToAPowerOfTwoAndMemoryIsFixed() {
        let table = SourceTable(maxSources: 1000)
        #expect(table.capacity == 1024)
        #expect(table.memoryBytes == 1024 * SourceTable.bytesPerSource)
        #expect(SourceTable.bytesPerSource == 392)
    }

    @Test(arguments: [1, 5, 25, 100, 300])
    func linearCountingEstimatesDistinctValuesClosely(count: Int) {
        let table = SourceTable(maxSources: 16, keys: .init(pair: 1, port: 2, host: 3))
        let slot = table.findOrInsert(Traffic.host(1), address: Traffic.host(1), now: 0)!
        for port in 0..<count { _ = table.insertBit(slot, SourceTable.Field.portBitmap, table.portIndex(UInt16(port))) }
        let estimate = table.estimate(slot, SourceTable.Field.portBitmap)
        // detection.md §8: at most about 5.5 % standard error at 256 bits up to 300; allow 2.5 of them.
        #expect(abs(Double(estimate - count)) <= max(1.0, 0.14 * Double(count)), "estimate \(estimate) for \(count)")
    }

    @Test func aFullMapReportsItsCeilingNotAnInfinity() {
        let table = SourceTable(maxSources: 16, keys: .init(pair: 1, port: 2, host: 3))
        let slot = table.findOrInsert(Traffic.host(1), address: Traffic.host(1), now: 0)!
        for port in 0..<65_536 {
            _ = table.insertBit(slot, SourceTable.Field.portBitmap, table.portIndex(UInt16(port)))
        }
        #expect(table.ones(slot, SourceTable.Field.portBitmap) == SourceTable.bitmapBits)
        #expect(table.estimate(slot, SourceTable.Field.portBitmap) == 1420)  // m·ln m for m = 256
    }

    @Test func naturalLogMatchesKnownValues() {
        #expect(abs(SourceTable.naturalLog(1) - 0) < 1e-12)
        #expect(abs(SourceTable.naturalLog(2.718281828459045) - 1) < 1e-12)
        #expect(abs(SourceTable.naturalLog(512) - 6.238324625039508) < 1e-12)
    }

    @Test func aKeyIsFoundWhereItWasInsertedAndNowhereElse() {
        let table = SourceTable(maxSources: 64)
        let slot = table.findOrInsert(Traffic.host(1), address: Traffic.host(1), now: 5)
        #expect(slot != nil && table.find(Traffic.host(1)) == slot)
        #expect(table.find(Traffic.host(2)) == nil)
        #expect(table.snapshot(slot!)?.firstSeen == Timestamp(nanoseconds: 5))
    }
}
