import Foundation
import ScanDetection
import ScannerClassification
import Testing
import WireFormat
import _ScanTapTestSupport

@testable import ReverseDNS

/// A resolver for tests: short timeouts, so a lost answer fails the test in seconds.
func resolver(
    _ server: DNSServer, _ configure: (inout ResolverConfiguration) -> Void = { _ in }
) throws -> Resolver {
    var configuration = ResolverConfiguration(server: server)
    configuration.queryTimeout = .milliseconds(500)
    configuration.attempts = 2
    configure(&configuration)
    return try Resolver(configuration: configuration)
}

/// Requests `address` and polls the cache until the lookup finishes, at most `limit`.
func lookUp(_ text: String, with resolver: Resolver, limit: Duration = .seconds(5)) -> ReverseLookup? {
    let address = IPAddress(text)!
    resolver.request(address)
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if let lookup = resolver.cached(address), lookup != .pending { return lookup }
        usleep(2_000)
    }
    return resolver.cached(address)
}

@Suite(.enabled(if: LocalDNSServer.available, "dnsmasq is missing and cannot be installed"))
struct ResolverAgainstDNSMasqTests {
    let server = LocalDNSServer.shared!.server

    @Test func aPTRNameWhoseARecordHoldsTheAddressIsConfirmed() throws {
        let lookup = lookUp("192.0.2.10", with: try resolver(server))
        #expect(lookup == .confirmed(name: "census1.shodan.io"))
        #expect(lookup?.ptr == ConfirmedPTR(name: "census1.shodan.io", forwardConfirmed: true))
    }

    @Test func anIPv6PTRNameIsConfirmedThroughItsAAAARecord() throws {
        let lookup = lookUp("2001:db8::10", with: try resolver(server))
        #expect(lookup == .confirmed(name: "census6.shodan.io"))
    }

    @Test func aSpoofedPTRWhoseARecordPointsElsewhereIsNotConfirmed() throws {
        let lookup = lookUp("192.0.2.66", with: try resolver(server))
        #expect(lookup == .unconfirmed(name: "scan.shodan.io"))
        #expect(lookup?.ptr == ConfirmedPTR(name: "scan.shodan.io", forwardConfirmed: false))
    }

    @Test func aSpoofedPTRNameThatDoesNotExistIsNotConfirmed() throws {
        #expect(lookUp("192.0.2.67", with: try resolver(server)) == .unconfirmed(name: "ghost.shodan.io"))
    }

    @Test func aSpoofedIPv6PTRWhoseNameHasNoAAAARecordIsNotConfirmed() throws {
        #expect(lookUp("2001:db8::66", with: try resolver(server)) == .unconfirmed(name: "scan.shodan.io"))
    }

    @Test func oneConfirmingNameAmongSeveralPTRNamesConfirmsTheAddress() throws {
        #expect(lookUp("192.0.2.11", with: try resolver(server)) == .confirmed(name: "census2.shodan.io"))
    }

    @Test func noMoreThanMaximumNamesCheckedAreLookedUpForward() throws {
        let resolver = try resolver(server)
        guard case .unconfirmed = lookUp("192.0.2.12", with: resolver) else {
            Issue.record("expected an unconfirmed name")
            return
        }
        #expect(resolver.statistics.queriesSent == 1 + resolver.configuration.maximumNamesChecked)
    }

    @Test func anAddressWithoutAPTRRecordHasNoName() throws {
        let resolver = try resolver(server)
        let lookup = lookUp("192.0.2.77", with: resolver)
        #expect(lookup == .noName)
        #expect(lookup?.ptr == nil)
        #expect(resolver.statistics.queriesSent == 1)
    }

    @Test func aSecondRequestIsAnsweredFromTheCacheWithoutAQuery() throws {
        let resolver = try resolver(server)
        #expect(lookUp("192.0.2.10", with: resolver) == .confirmed(name: "census1.shodan.io"))
        let sent = resolver.statistics.queriesSent
        #expect(sent == 2)  // the PTR query and one A query
        #expect(resolver.request(IPAddress("192.0.2.10")!) == .known(.confirmed(name: "census1.shodan.io")))
        usleep(50_000)
        #expect(resolver.statistics.queriesSent == sent)
        #expect(resolver.statistics.cacheHits == 1)
        #expect(resolver.statistics.lookupsStarted == 1)
    }

    @Test func aRequestForAnAddressAlreadyInFlightIsNotQueuedTwice() throws {
        let resolver = try resolver(server)
        let address = IPAddress("192.0.2.66")!
        #expect(resolver.request(address) == .queued)
        #expect(resolver.request(address) == .alreadyPending)
        _ = lookUp("192.0.2.66", with: resolver)
        #expect(resolver.statistics.lookupsStarted == 1)
    }

    @Test func waitingUntilIdleLetsEveryRequestedLookupLand() throws {
        let resolver = try resolver(server)
        let addresses = ["192.0.2.10", "192.0.2.66", "192.0.2.77", "2001:db8::10"].map { IPAddress($0)! }
        for address in addresses { resolver.request(address) }
        #expect(resolver.waitUntilIdle(timeout: .seconds(5)))
        #expect(addresses.allSatisfy { resolver.cached($0) != nil && resolver.cached($0) != .pending })
    }

    @Test func theClassifierCountsAConfirmedResearchNameAndRefusesASpoofedOne() throws {
        let resolver = try resolver(server)
        let classifier = try Classifier(knowledge: KnowledgeBase.load(path: Checkout.shippedKnowledge))
        let confirmed = classifier.classify(
            address: IPAddress("192.0.2.10")!, observed: Observation(), ptr: lookUp("192.0.2.10", with: resolver)?.ptr)
        #expect(confirmed.verdict == .research)
        #expect(confirmed.organization == "Shodan")
        let spoofed = classifier.classify(
            address: IPAddress("192.0.2.66")!, observed: Observation(), ptr: lookUp("192.0.2.66", with: resolver)?.ptr)
        #expect(spoofed.verdict == .unknown)
        #expect(spoofed.evidence.contains { $0.contains("does not forward-confirm") })
    }
}

/// Tests against a server that never answers: a bound UDP socket nobody reads. They need no
/// dnsmasq.
@Suite struct ResolverWithoutAnswersTests {
    @Test func aLookupTimesOutWithCAresMessageWhileRequestReturnsAtOnce() throws {
        let silent = SilentUDPSocket()!
        let resolver = try resolver(silent.server) {
            $0.queryTimeout = .milliseconds(200)
            $0.attempts = 1
            $0.lookupsPerSecond = 1_000
        }
        var durations: [Duration] = []
        for last in 1...50 {
            let address = IPAddress(ipv4: 0xC000_0200 | UInt32(last))
            let start = ContinuousClock.now
            let outcome = resolver.request(address)
            durations.append(start.duration(to: .now))
            #expect(outcome == .queued)
        }
        // The median, not the maximum: on a shared machine any call can lose its core for a
        // while; what matters is that no call waits on the network (each query waits 200 ms).
        let median = durations.sorted()[durations.count / 2]
        #expect(median < .milliseconds(1), "request took \(median) (median of 50)")
        #expect(durations.max()! < .milliseconds(100))
        #expect(resolver.cached(IPAddress("192.0.2.1")!) == .pending)

        let lookup = lookUp("192.0.2.1", with: resolver)
        guard case .failed(let error) = lookup else {
            Issue.record("expected a timeout, got \(String(describing: lookup))")
            return
        }
        #expect(error.isTimeout)
        #expect(error.message == "Timeout while contacting DNS servers")
        #expect(error.description == "PTR 1.2.0.192.in-addr.arpa: Timeout while contacting DNS servers")
        #expect(lookup?.ptr == nil)
        #expect(silent.receivedDatagram(), "the queries went to the configured server")
    }

    @Test func lookupsStartNoFasterThanTheRateLimit() throws {
        let silent = SilentUDPSocket()!
        let resolver = try resolver(silent.server) {
            $0.lookupsPerSecond = 5
            $0.queryTimeout = .seconds(10)
        }
        let start = ContinuousClock.now
        for last in 1...40 { resolver.request(IPAddress(ipv4: 0xC000_0200 | UInt32(last))) }
        usleep(1_000_000)
        let started = resolver.statistics.lookupsStarted
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        // One second's burst of 5, then 5 a second.
        #expect(started <= 5 + Int((5 * seconds).rounded(.up)))
        #expect(started >= 5)
        #expect(resolver.statistics.queriesSent == started)
        #expect(resolver.statistics.dropped == 0)
    }

    @Test func aFullQueueDropsRequestsAndCountsThem() throws {
        let silent = SilentUDPSocket()!
        let resolver = try resolver(silent.server) {
            $0.lookupsPerSecond = 0.1
            $0.queueCapacity = 3
        }
        var outcomes: [Resolver.Request] = []
        for last in 1...10 { outcomes.append(resolver.request(IPAddress(ipv4: 0xC000_0200 | UInt32(last)))) }
        // The thread may have taken one address off the queue (its one token) meanwhile.
        let dropped = outcomes.filter { $0 == .dropped }.count
        #expect(dropped == 7 || dropped == 6)
        #expect(resolver.statistics.dropped == dropped)
        #expect(outcomes.prefix(3).allSatisfy { $0 == .queued })
    }

    @Test func waitingUntilIdleGivesUpAtItsTimeout() throws {
        let silent = SilentUDPSocket()!
        let resolver = try resolver(silent.server) { $0.queryTimeout = .seconds(30) }
        resolver.request(IPAddress("192.0.2.1")!)
        let start = ContinuousClock.now
        #expect(!resolver.waitUntilIdle(timeout: .milliseconds(50)))
        #expect(start.duration(to: .now) < .seconds(1))
    }

    @Test func droppingTheResolverStopsItsThreadWithQueriesOpen() throws {
        let silent = SilentUDPSocket()!
        var resolver: Resolver? = try resolver(silent.server) { $0.queryTimeout = .seconds(30) }
        resolver?.request(IPAddress("192.0.2.1")!)
        usleep(20_000)
        let start = ContinuousClock.now
        resolver = nil
        #expect(start.duration(to: .now) < .seconds(1))
    }
}

@Suite(.enabled(if: SilentUDPSocket(ipv6: true) != nil, "no IPv6 loopback address here"))
struct ResolverOverIPv6Tests {
    @Test func queriesGoToAnIPv6ServerGivenInBrackets() throws {
        let silent = SilentUDPSocket(ipv6: true)!
        #expect(silent.server.description == "[::1]:\(silent.port)")
        let resolver = try resolver(silent.server) {
            $0.queryTimeout = .milliseconds(100)
            $0.attempts = 1
        }
        guard case .failed(let error) = lookUp("192.0.2.1", with: resolver) else {
            Issue.record("expected a timeout")
            return
        }
        #expect(error.isTimeout)
        #expect(silent.receivedDatagram())
    }
}
