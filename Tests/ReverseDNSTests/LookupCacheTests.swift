import Testing
import WireFormat
import _ScanTapTestSupport

@testable import ReverseDNS

@Suite struct LookupCacheTests {
    let start = ContinuousClock.now

    @Test func aStoredLookupIsReturnedUntilItExpires() {
        var cache = LookupCache(capacity: 4)
        let address = IPAddress("192.0.2.10")!
        cache.store(.noName, for: address, lifetime: .seconds(10), now: start)
        let before = cache.lookup(address, now: start + .seconds(9))
        let after = cache.lookup(address, now: start + .seconds(10))
        #expect(before == .noName)
        #expect(after == nil)
        #expect(cache.count == 0)
    }

    @Test func aFullCacheForgetsTheOldestStoreFirst() {
        var cache = LookupCache(capacity: 3)
        let addresses = (1...4).map { IPAddress(ipv4: 0xC000_0200 | UInt32($0)) }
        for address in addresses.prefix(3) { cache.store(.noName, for: address, lifetime: .seconds(60), now: start) }
        // Storing the first again makes it the newest.
        cache.store(.confirmed(name: "a.example"), for: addresses[0], lifetime: .seconds(60), now: start)
        cache.store(.noName, for: addresses[3], lifetime: .seconds(60), now: start)
        #expect(cache.count == 3)
        let found = addresses.map { cache.lookup($0, now: start) }
        #expect(found == [.confirmed(name: "a.example"), nil, .noName, .noName])
    }

    @Test func aCacheStoredIntoManyTimesStaysWithinItsCapacity() {
        var cache = LookupCache(capacity: 100)
        for round in 0..<10_000 {
            cache.store(.noName, for: IPAddress(ipv4: UInt32(round % 250)), lifetime: .seconds(60), now: start)
        }
        #expect(cache.count == 100)
        #expect(cache.order.count <= 200)
    }

    @Test func sourcesLookedUpAgainAndAgainBelowCapacityDoNotGrowTheBookkeeping() {
        var cache = LookupCache(capacity: 65_536)
        for round in 0..<100_000 {
            cache.store(.noName, for: IPAddress(ipv4: UInt32(round % 10)), lifetime: .seconds(60), now: start)
        }
        #expect(cache.count == 10)
        #expect(cache.order.count <= 128)
    }
}

@Suite struct RateLimiterTests {
    let start = ContinuousClock.now

    @Test func oneSecondsWorthStartsAtOnceThenTheRateHolds() {
        var limiter = RateLimiter(perSecond: 4, now: start)
        let burst = takeAll(&limiter, tries: 6, now: start)
        let wait = limiter.wait(now: start)
        let early = limiter.take(now: start + .milliseconds(249))
        let onTime = limiter.take(now: start + .milliseconds(250))
        let afterIdle = takeAll(&limiter, tries: 20, now: start + .seconds(10))
        #expect(burst == 4)
        #expect(wait == .milliseconds(250))
        #expect(!early)
        #expect(onTime)
        #expect(afterIdle == 4)
    }

    private func takeAll(_ limiter: inout RateLimiter, tries: Int, now: ContinuousClock.Instant) -> Int {
        (0..<tries).reduce(0) { taken, _ in taken + (limiter.take(now: now) ? 1 : 0) }
    }

    @Test func aRateBelowOnePerSecondStillStartsOneLookup() {
        var limiter = RateLimiter(perSecond: 0.5, now: start)
        let taken = [start, start + .seconds(1), start + .seconds(2)].map { limiter.take(now: $0) }
        #expect(taken == [true, false, true])
    }
}

@Suite struct DNSServerTests {
    @Test(arguments: [
        ("127.0.0.1", "127.0.0.1:53"),
        ("127.0.0.1:5353", "127.0.0.1:5353"),
        ("2001:db8::53", "[2001:db8::53]:53"),
        ("[2001:db8::53]", "[2001:db8::53]:53"),
        ("[2001:db8::53]:5353", "[2001:db8::53]:5353"),
    ])
    func aServerIsWrittenAsAddressAndPort(text: String, written: String) {
        #expect(DNSServer(text)?.description == written)
    }

    @Test(arguments: [
        "", "localhost", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "[127.0.0.1]:53", "[2001:db8::53]x",
        "2001:db8::53:99999", "[2001:db8::53",
    ])
    func aMalformedServerIsRefused(text: String) {
        #expect(DNSServer(text) == nil)
    }
}

@Suite struct ReverseNameTests {
    @Test func anIPv4AddressIsReversedUnderInAddrArpa() {
        #expect(IPAddress("192.0.2.10")!.reverseDNSName == "10.2.0.192.in-addr.arpa")
    }

    @Test func anIPv6AddressIsReversedNibbleByNibbleUnderIP6Arpa() {
        #expect(
            IPAddress("2001:db8::10")!.reverseDNSName
                == "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
    }

    @Test func anAddressIsWrittenInNetworkOrderForCAres() {
        #expect(IPAddress("192.0.2.10")!.networkBytes == [192, 0, 2, 10])
        #expect(
            IPAddress("2001:db8::10")!.networkBytes == [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [
                0x10
            ])
    }
}
