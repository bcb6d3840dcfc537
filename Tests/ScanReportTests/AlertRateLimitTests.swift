import ScanReport
import Testing
import WireFormat

@Suite struct AlertRateLimitTests {
    private func at(_ seconds: Double) -> Timestamp { Timestamp(nanoseconds: Int64(seconds * 1e9)) }

    @Test func aBurstIsShownWholeThenTheRateHoldsAndTheHeldBackAreSummarised() {
        var limit = AlertRateLimit(perSecond: 10, burst: 100)
        // 300 declarations within 0.3 s: the burst of 100 passes, then 10 a second (3 more).
        let decisions = (0..<300).map { limit.admit(at: at(Double($0) * 0.001)) }
        #expect(decisions.prefix(100).allSatisfy { $0 == .allow })
        let shown = decisions.filter { $0 != .suppress }.count
        #expect(shown >= 100 && shown <= 104)
        var summarised = decisions.reduce(0) { total, d in
            if case .allowAfterSuppression(let count, _, _) = d { return total + count }
            return total
        }
        // Ten seconds later the bucket has refilled: the next alert passes after a summary.
        guard case .allowAfterSuppression(let count, _, let last) = limit.admit(at: at(10)) else {
            Issue.record("expected a summary of the held-back alerts")
            return
        }
        summarised += count
        #expect(summarised == 300 - shown && last <= at(0.3))
        #expect(limit.admit(at: at(10.01)) == .allow)
        #expect(limit.drain() == nil)
    }

    @Test func alertsHeldBackAtTheEndAreDrained() {
        var limit = AlertRateLimit(perSecond: 1, burst: 1)
        #expect(limit.admit(at: at(0)) == .allow)
        #expect(limit.admit(at: at(0.1)) == .suppress)
        #expect(limit.admit(at: at(0.2)) == .suppress)
        let held = limit.drain()
        #expect(held?.count == 2 && held?.first == at(0.1) && held?.last == at(0.2))
    }
}
