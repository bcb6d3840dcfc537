import Testing
import WireFormat

@testable import ScanDetection

private let scanner = IPAddress("198.18.0.3")!
private let victim = IPAddress("198.18.0.10")!

private func detector(_ configure: (inout DetectorConfiguration) -> Void = { _ in }) -> ScanDetector {
    var configuration = DetectorConfiguration()
    configuration.maxSources = 1024
    configure(&configuration)
    // Fixed keys: exact counts below must not hinge on chance collisions in the bitmaps.
    return ScanDetector(
        configuration: configuration, keys: .init(pair: 0x5EED_0001, port: 0x5EED_0002, host: 0x5EED_0003))
}

@Suite struct ScanDetectorTests {
    @Test func aSYNScanOfClosedPortsIsDeclaredAfterFourFailedFirstContacts() throws {
        let d = detector()
        var alerts: [Alert] = []
        for port in UInt16(1)...10 {
            let t = Double(port) * 0.01
            if let a = d.process(Traffic.tcp(scanner, 40000, victim, port, .syn, at: t)) { alerts.append(a) }
            if let a = d.process(Traffic.tcp(victim, port, scanner, 40000, [.rst, .ack], at: t + 0.001)) {
                alerts.append(a)
            }
        }
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(alert.source == scanner && alert.technique == .syn && alert.path == .sequentialTest)
        #expect(alert.detectedAfter == 4)
        #expect(alert.time == Traffic.time(0.041))
        let episode = try #require(d.closeAll().first)
        #expect(episode.probes == 10 && episode.failures == 10 && episode.successes == 0)
        #expect(episode.shape == .vertical && episode.ports == Array(1...10) && episode.detectedAfter == 4)
        #expect(episode.distinctPorts == 10 && episode.distinctTargets == 1 && episode.end == .endOfInput)
    }

    @Test func aClientWhoseConnectionsSucceedIsNeverDeclared() {
        let d = detector()
        let client = Traffic.host(50)
        for n in 0..<40 {
            let server = Traffic.host(1000 + n)
            #expect(
                d.process(Traffic.tcp(client, UInt16(50000 + n), server, 443, .syn, at: Double(n), stackOptions: true))
                    == nil)
            // Three in every forty hit a closed port; the successes outweigh them.
            let answer: TCPFlags = n % 13 == 0 ? [.rst, .ack] : [.syn, .ack]
            #expect(d.process(Traffic.tcp(server, 443, client, UInt16(50000 + n), answer, at: Double(n) + 0.02)) == nil)
        }
        #expect(d.closeAll().isEmpty)
    }

    @Test func successesCannotBuyUnlimitedFailures() {
        // Mell & Harang's evasion: bank successes, then scan. The credit is capped, so the walk
        // still reaches the threshold after successCreditLimit + failureStepsToDeclare failures.
        let d = detector()
        for port in UInt16(1)...20 {
            _ = d.process(Traffic.tcp(scanner, 40000, victim, port, .syn))
            _ = d.process(Traffic.tcp(victim, port, scanner, 40000, [.syn, .ack]))
        }
        var failuresAtDeclaration: Int?
        for port in UInt16(101)...140 where failuresAtDeclaration == nil {
            _ = d.process(Traffic.tcp(scanner, 40000, victim, port, .syn))
            if d.process(Traffic.tcp(victim, port, scanner, 40000, [.rst, .ack])) != nil {
                failuresAtDeclaration = d.table.find(scanner).flatMap { d.table.snapshot($0) }?.failures
            }
        }
        let configuration = DetectorConfiguration()
        #expect(failuresAtDeclaration == configuration.successCreditLimit + configuration.failureStepsToDeclare)
    }

    @Test func answersAndBackscatterNeverCreateASource() {
        let d = detector()
        let flooded = Traffic.host(7)
        for n in 0..<500 {
            _ = d.process(Traffic.tcp(flooded, 80, Traffic.host(2000 + n), UInt16(1024 + n), [.syn, .ack]))
            _ = d.process(Traffic.tcp(flooded, 80, Traffic.host(2000 + n), UInt16(1024 + n), [.rst, .ack]))
            _ = d.process(Traffic.tcp(Traffic.host(2000 + n), UInt16(1024 + n), flooded, 80, .rst))
        }
        #expect(d.table.insertions == 0)
        #expect(d.closeAll().isEmpty)
    }

    @Test func aScanWithoutVisibleAnswersIsDeclaredByTheUnansweredCount() throws {
        let d = detector()
        var alerts: [Alert] = []
        for n in 0..<80 {
            if let a = d.process(Traffic.tcp(scanner, 51406, Traffic.host(n), 445, .syn, at: Double(n) * 0.01)) {
                alerts.append(a)
            }
        }
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1 && alert.path == .unansweredContacts)
        #expect(alert.detectedAfter >= DetectorConfiguration().unansweredContactsToDeclare - 3)
        #expect(alert.detectedAfter <= DetectorConfiguration().unansweredContactsToDeclare)
        let episode = try #require(d.closeAll().first)
        #expect(episode.shape == .horizontal && episode.ports == [445])
        #expect(abs(episode.distinctTargets - 80) <= 8)
    }

    @Test func eightUnansweredPortsOnOneHostAreAVerticalScanEvenWithoutAnswers() throws {
        let d = detector()
        var alerts: [Alert] = []
        for port in UInt16(1)...12 {
            if let a = d.process(
                Traffic.tcp(
                    scanner, UInt16(52000) + port, victim, port, .syn, at: Double(port) * 0.1, stackOptions: true))
            {
                alerts.append(a)
            }
        }
        #expect(alerts.count == 1 && alerts.first?.path == .unansweredContacts)
        #expect(alerts.first?.detectedAfter == DetectorConfiguration().unansweredPortsToDeclare)
    }

    @Test func aClientOpeningConnectionsToManyHostsBeforeAnyAnswerIsNotAccused() throws {
        // A browser's burst: dozens of hosts on 443 within one round trip, answers still on
        // their way. Horizontal contacts need the higher unanswered count.
        let d = detector()
        for n in 0..<(DetectorConfiguration().unansweredContactsToDeclare - 1) {
            #expect(
                d.process(
                    Traffic.tcp(
                        Traffic.host(50), UInt16(50000 + n), Traffic.host(1000 + n), 443, .syn, stackOptions: true))
                    == nil)
        }
        // The same burst from a raw-packet source that keeps going is declared once the count
        // holds: the threshold, not some other rule, is what spared the client.
        let scan = detector()
        var declaredAt: Int?
        for n in 0..<120 where declaredAt == nil {
            if scan.process(Traffic.tcp(scanner, 50000, Traffic.host(1000 + n), 443, .syn)) != nil {
                declaredAt = n + 1
            }
        }
        let probes = try #require(declaredAt)
        #expect(probes >= DetectorConfiguration().unansweredContactsToDeclare && probes < 120)
    }

    @Test func retransmittedSYNsAreFailedFirstContactsEvenWithoutVisibleAnswers() throws {
        let d = detector()
        var alerts: [Alert] = []
        // A slow worm: one host every ten minutes on 445, each SYN retransmitted after 3 and 6 s.
        for n in 0..<9 {
            let t = Double(n) * 600
            for retry in 0..<3 {
                var syn = Traffic.tcp(
                    scanner, UInt16(50000 + n), Traffic.host(300 + n), 445, .syn,
                    at: t + [0, 3, 9][retry], stackOptions: true)
                syn.sequenceNumber = 0x1000 &* UInt32(n + 1)
                if let a = d.process(syn) { alerts.append(a) }
            }
        }
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1 && alert.path == .sequentialTest && alert.detectedAfter == 4)
    }

    @Test func packetsMirroredTwiceAndReconnectsAreNotRetransmissions() {
        let d = detector()
        for n in 0..<20 {
            var syn = Traffic.tcp(
                scanner, UInt16(50000 + n), Traffic.host(300 + n), 445, .syn, at: Double(n) * 60,
                stackOptions: true)
            syn.sequenceNumber = 0x1000 &* UInt32(n + 1)
            _ = d.process(syn)
            // The span port's copy of the same SYN, microseconds later.
            syn.timestamp = Timestamp(nanoseconds: syn.timestamp.nanoseconds + 20_000)
            #expect(d.process(syn) == nil)
            // A new connection to the same service a few seconds later: new port, new sequence.
            var again = Traffic.tcp(
                scanner, UInt16(51000 + n), Traffic.host(300 + n), 445, .syn, at: Double(n) * 60 + 5,
                stackOptions: true)
            again.sequenceNumber = 0x7000 &* UInt32(n + 1)
            #expect(d.process(again) == nil)
        }
        #expect(d.closeAll().isEmpty)
    }

    @Test func unreachablesInAnAnonymisedCaptureStillAnswerTheProbesTheyQuote() throws {
        let d = detector()
        var alerts: [Alert] = []
        for n in 0..<6 {
            let target = Traffic.host(700 + n)
            if let a = d.process(Traffic.tcp(scanner, 52972, target, 80, .syn, at: Double(n) * 600)) {
                alerts.append(a)
            }
            // The outer header was rewritten, the quoted one kept the original address.
            var prohibited = Traffic.portUnreachable(
                from: target, quoting: scanner, 52972, IPAddress("143.219.0.1")!, 80,
                at: Double(n) * 600 + 0.001)
            prohibited.quoted?.ipProtocol = 6
            if let a = d.process(prohibited) { alerts.append(a) }
        }
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1 && alert.path == .sequentialTest && alert.detectedAfter == 4)
    }

    @Test(arguments: [false, true])
    func aBatchIsAccountedExactlyAsItsPacketsOneByOne(exclusive: Bool) throws {
        // Two scanners, a client, answers and data, interleaved: the pipelined batch (what read
        // and live run) must declare and count exactly as single calls do.
        var packets: [DecodedPacket] = []
        for port in UInt16(1)...60 {
            let t = Double(port) * 0.01
            packets.append(Traffic.tcp(scanner, 40000, victim, port, .syn, at: t))
            packets.append(Traffic.tcp(victim, port, scanner, 40000, [.rst, .ack], at: t + 0.001))
            packets.append(Traffic.tcp(Traffic.host(9), 50000, Traffic.host(Int(port)), 22, .fin, at: t + 0.002))
            packets.append(
                Traffic.tcp(Traffic.host(7), 51000 + port, victim, 443, .syn, at: t + 0.003, stackOptions: true))
            packets.append(Traffic.tcp(victim, 443, Traffic.host(7), 51000 + port, [.syn, .ack], at: t + 0.004))
        }
        func run(batched: Bool) -> (alerts: [Alert], episodes: [Episode]) {
            var configuration = DetectorConfiguration()
            configuration.maxSources = 1024
            let d = ScanDetector(
                configuration: configuration, exclusive: exclusive, keys: .init(pair: 1, port: 2, host: 3))
            var alerts: [Alert] = []
            if batched {
                packets.withUnsafeBufferPointer { d.process($0) { alerts.append($0) } }
            } else {
                for p in packets { if let a = d.process(p) { alerts.append(a) } }
            }
            return (alerts, d.closeAll())
        }
        let single = run(batched: false)
        let batch = run(batched: true)
        #expect(single.alerts.map(\.source) == [scanner, Traffic.host(9)])
        #expect(batch.alerts.map(\.source) == single.alerts.map(\.source))
        #expect(batch.alerts.map(\.detectedAfter) == single.alerts.map(\.detectedAfter))
        #expect(batch.episodes.map(\.probes) == single.episodes.map(\.probes))
        #expect(batch.episodes.map(\.technique) == single.episodes.map(\.technique))
    }

    @Test func retransmissionsAndRepeatsAreNotNewFirstContacts() {
        let d = detector()
        for n in 0..<200 {
            #expect(d.process(Traffic.tcp(scanner, 40000, victim, 4445, .syn, at: Double(n))) == nil)
            #expect(d.process(Traffic.tcp(victim, 4445, scanner, 40000, [.rst, .ack], at: Double(n) + 0.001)) == nil)
        }
        let s = d.table.find(scanner).flatMap { d.table.snapshot($0) }
        #expect(s?.contacts == 1 && s?.probes == 200 && s?.failures == 1)
    }

    @Test func completedHandshakesWithoutPayloadAreAConnectScan() throws {
        let d = detector()
        for port in UInt16(1)...12 {
            let sport = 50000 + port
            _ = d.process(Traffic.tcp(scanner, sport, victim, port, .syn, stackOptions: true))
            if port % 4 == 0 {  // open: handshake completes, then nmap -sT's SO_LINGER reset
                _ = d.process(Traffic.tcp(victim, port, scanner, sport, [.syn, .ack]))
                _ = d.process(Traffic.tcp(scanner, sport, victim, port, .ack))
                _ = d.process(Traffic.tcp(scanner, sport, victim, port, [.rst, .ack]))
            } else {
                _ = d.process(Traffic.tcp(victim, port, scanner, sport, [.rst, .ack]))
            }
        }
        let episode = try #require(d.closeAll().first)
        #expect(episode.technique == .connect)
    }

    @Test func halfOpenTeardownsAreASYNScanEvenWithStackOptions() throws {
        let d = detector()
        for port in UInt16(1)...12 {
            _ = d.process(Traffic.tcp(scanner, 40000, victim, port, .syn, stackOptions: true))
            if port % 3 == 0 {
                _ = d.process(Traffic.tcp(victim, port, scanner, 40000, [.syn, .ack]))
                _ = d.process(Traffic.tcp(scanner, 40000, victim, port, .rst))
            } else {
                _ = d.process(Traffic.tcp(victim, port, scanner, 40000, [.rst, .ack]))
            }
        }
        #expect(try #require(d.closeAll().first).technique == .syn)
    }

    static let stealthKinds: [(TCPFlags, ScanTechnique)] = [
        (.fin, .fin), (TCPFlags(), .null), ([.fin, .psh, .urg], .xmas),
    ]

    @Test(arguments: stealthKinds)
    func stealthProbesAnsweredByResetsAreDeclaredWithTheirTechnique(flags: TCPFlags, technique: ScanTechnique) throws {
        let d = detector()
        var alerts: [Alert] = []
        for port in UInt16(1)...20 {
            if let a = d.process(Traffic.tcp(scanner, 45195, victim, port, flags)) { alerts.append(a) }
            // Closed ports answer RST/ACK; open ones (every fifth) stay silent.
            if port % 5 != 0, let a = d.process(Traffic.tcp(victim, port, scanner, 45195, [.rst, .ack])) {
                alerts.append(a)
            }
        }
        #expect(alerts.count == 1 && alerts.first?.technique == technique)
        let episode = try #require(d.closeAll().first)
        #expect(episode.technique == technique && episode.probes == 20)
    }

    static let ackKinds: [(TCPFlags, ScanTechnique)] = [(.ack, .ack), ([.fin, .ack], .maimon)]

    @Test(arguments: ackKinds)
    func ackProbesAnsweredByResetsAreDeclaredWithTheirTechnique(flags: TCPFlags, technique: ScanTechnique) throws {
        let d = detector()
        var alerts: [Alert] = []
        for port in UInt16(1)...20 {
            let t = Double(port) * 0.01
            if let a = d.process(Traffic.tcp(scanner, 56774, victim, port, flags, at: t)) { alerts.append(a) }
            if let a = d.process(Traffic.tcp(victim, port, scanner, 56774, .rst, at: t + 0.001)) { alerts.append(a) }
        }
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1 && alert.technique == technique && alert.path == .sequentialTest)
        #expect(alert.detectedAfter == 4)
        let episode = try #require(d.closeAll().first)
        #expect(episode.technique == technique && episode.probes == 20 && episode.failures == 20)
        #expect(episode.distinctPorts == 20 && episode.ports.count == 16)
    }

    @Test func connectionsThatPredateTheCaptureAndEndInResetsAreNotAnACKScan() {
        let d = detector()
        let server = IPAddress("198.18.0.20")!
        for connection in UInt16(0)..<20 {
            let clientPort = 61000 + connection
            let t = Double(connection)
            // A server without TCP options acknowledging the client's data, then the client aborting.
            _ = d.process(Traffic.tcp(server, 443, scanner, clientPort, .ack, at: t))
            _ = d.process(Traffic.tcp(scanner, clientPort, server, 443, .rst, at: t + 0.1))
            // The same client's connections, each from its own port, reset by other servers.
            _ = d.process(
                Traffic.tcp(scanner, clientPort, Traffic.host(100 + Int(connection)), 443, [.fin, .ack], at: t + 0.15))
            _ = d.process(
                Traffic.tcp(Traffic.host(100 + Int(connection)), 443, scanner, clientPort, .rst, at: t + 0.16))
            // A client without options whose connections the server resets, after two ACKs each.
            _ = d.process(Traffic.tcp(scanner, clientPort, server, 8443, .ack, at: t + 0.2))
            _ = d.process(Traffic.tcp(scanner, clientPort, server, 8443, .ack, at: t + 0.3))
            _ = d.process(Traffic.tcp(server, 8443, scanner, clientPort, .rst, at: t + 0.4))
            // An operating system's segments carry timestamps.
            _ = d.process(
                Traffic.tcp(scanner, clientPort, victim, connection + 1, .ack, at: t + 0.5, stackOptions: true))
            _ = d.process(Traffic.tcp(victim, connection + 1, scanner, clientPort, .rst, at: t + 0.6))
        }
        #expect(d.closeAll().isEmpty)
    }

    @Test func aFilteredACKScanIsNamedOnlyByItsToolFingerprint() throws {
        let d = detector()
        var alerts: [Alert] = []
        for port in UInt16(1)...10 {
            var probe = Traffic.tcp(scanner, 56774, victim, port, .ack)
            probe.window = 1024
            probe.sequenceNumber = 0
            if let a = d.process(probe) { alerts.append(a) }
        }
        let alert = try #require(alerts.first)
        #expect(
            alerts.count == 1 && alert.technique == .ack && alert.path == .toolFingerprint && alert.detectedAfter == 5)
        // Without the tool's marks, unanswered ACKs decide nothing.
        let plain = detector()
        for port in UInt16(1)...100 { #expect(plain.process(Traffic.tcp(scanner, 56774, victim, port, .ack)) == nil) }
    }

    @Test func aSourceMixingProbeKindsIsMixed() throws {
        let d = detector()
        for port in UInt16(1)...40 {
            let flags: TCPFlags = port % 2 == 0 ? .syn : .fin
            _ = d.process(Traffic.tcp(scanner, 45195, victim, port, flags))
            _ = d.process(Traffic.tcp(victim, port, scanner, 45195, [.rst, .ack]))
        }
        #expect(try #require(d.closeAll().first).technique == .mixed)
    }

    @Test func aUDPScanAnsweredByPortUnreachablesIsDeclaredUDP() throws {
        let d = detector()
        var alerts: [Alert] = []
        for port in UInt16(1)...20 {
            if let a = d.process(Traffic.udp(scanner, 61000, victim, port)) { alerts.append(a) }
            if let a = d.process(Traffic.portUnreachable(from: victim, quoting: scanner, 61000, victim, port)) {
                alerts.append(a)
            }
        }
        #expect(alerts.count == 1 && alerts.first?.technique == .udp && alerts.first?.path == .sequentialTest)
        #expect(try #require(d.closeAll().first).technique == .udp)
    }

    @Test func aClientWhoseDatagramsAreAnsweredIsNeverDeclared() {
        let d = detector()
        let client = Traffic.host(50)
        for n in 0..<100 {
            let server = Traffic.host(1000 + n % 30)
            _ = d.process(Traffic.udp(client, UInt16(40000 + n), server, 53))
            // The servers answer; a few quote back an unreachable port now and then.
            if n % 17 == 0 {
                _ = d.process(Traffic.portUnreachable(from: server, quoting: client, UInt16(40000 + n), server, 53))
            } else {
                _ = d.process(Traffic.udp(server, 53, client, UInt16(40000 + n)))
            }
        }
        #expect(d.closeAll().isEmpty)
    }

    @Test func aPingSweepOfDarkAddressesIsDeclaredICMP() throws {
        let d = detector()
        var alerts: [Alert] = []
        for n in 0..<80 {
            if let a = d.process(Traffic.ping(scanner, Traffic.host(2000 + n), at: Double(n) * 0.01)) {
                alerts.append(a)
            }
        }
        #expect(alerts.count == 1 && alerts.first?.technique == .icmp)
        let episode = try #require(d.closeAll().first)
        #expect(
            episode.technique == .icmp && episode.shape == .horizontal && episode.ports.isEmpty && episode.probes == 80)
    }

    @Test func pingsThatAreAnsweredAreNotASweep() {
        let d = detector()
        for n in 0..<120 {
            let host = Traffic.host(2000 + n % 60)  // a monitoring system's rounds
            _ = d.process(Traffic.ping(scanner, host, at: Double(n)))
            _ = d.process(Traffic.ping(host, scanner, reply: true, at: Double(n) + 0.001))
        }
        #expect(d.closeAll().isEmpty)
    }

    @Test func multicastAndBroadcastDatagramsAreNotProbes() {
        let d = detector()
        for port in UInt16(1)...100 {
            _ = d.process(Traffic.udp(scanner, 5353, IPAddress("224.0.0.251")!, port))
            _ = d.process(Traffic.udp(scanner, 68, IPAddress("255.255.255.255")!, port))
            _ = d.process(Traffic.udp(IPAddress("2001:db8::3")!, 5353, IPAddress("ff02::fb")!, port))
        }
        #expect(d.table.insertions == 0)
    }

    @Test func connectionTeardownsAreNeverProbes() {
        let d = detector()
        let client = Traffic.host(50)
        for n in 0..<60 {
            let server = Traffic.host(1000 + n)
            // FIN/ACK and PSH/ACK carry ACK: ordinary connections, not probes.
            _ = d.process(Traffic.tcp(client, UInt16(50000 + n), server, 443, [.fin, .ack]))
            _ = d.process(Traffic.tcp(client, UInt16(50000 + n), server, 443, [.psh, .ack], payload: 200))
            _ = d.process(Traffic.tcp(server, 443, client, UInt16(50000 + n), [.rst]))
        }
        #expect(d.closeAll().isEmpty)
    }

    /// Gnutella's bootstrap: connections to peers all over the Internet on one port, most refused.
    private func peerRun(stack: Bool, sameNetwork: Bool) -> [Alert] {
        let d = detector()
        var alerts: [Alert] = []
        for n in 0..<60 {
            let peer = IPAddress(
                ipv4: sameNetwork ? 0x0A01_0000 | UInt32(n) : UInt32(n + 11) << 24 | UInt32(n * 7919 & 0xFFFF))
            if let a = d.process(
                Traffic.tcp(scanner, UInt16(3600 + n), peer, 6346, .syn, at: Double(n) * 0.05, stackOptions: stack))
            {
                alerts.append(a)
            }
            if n % 10 != 0,
                let a = d.process(
                    Traffic.tcp(peer, 6346, scanner, UInt16(3600 + n), [.rst, .ack], at: Double(n) * 0.05 + 0.03))
            {
                alerts.append(a)
            }
        }
        return alerts
    }

    @Test func aClientReachingPeersAcrossTheInternetIsNotAScan() {
        #expect(peerRun(stack: true, sameNetwork: false).isEmpty)
    }

    @Test func theSameAttemptsAtOneNetworkOrFromARawScannerAreAScan() {
        #expect(peerRun(stack: true, sameNetwork: true).count == 1)
        #expect(peerRun(stack: false, sameNetwork: false).count == 1)
    }

    @Test func aScanAtOneProbePerMinuteIsDeclaredAcrossTheGaps() throws {
        // nmap -T1 waits 15 s, -T0 five minutes; scanlogd forgets a source after 3 s.
        let d = detector()
        var alert: Alert?
        for n in 0..<20 where alert == nil {
            let t = Double(n) * 60
            _ = d.process(Traffic.tcp(scanner, 40000, victim, UInt16(100 + n), .syn, at: t))
            if n % 5 != 0 {
                alert = d.process(Traffic.tcp(victim, UInt16(100 + n), scanner, 40000, [.rst, .ack], at: t + 0.001))
            }
            // The sweeper runs between probes, as it does every second of packet time.
            #expect(d.sweep(now: Traffic.time(t + 59)).isEmpty)
        }
        let declared = try #require(alert)
        #expect(declared.time.nanoseconds - Traffic.time(0).nanoseconds <= 6 * 60 * 1_000_000_000)
    }

    @Test func aSilentVerticalScanAtOneProbePerMinuteIsDeclared() {
        let d = detector()
        var alerts = 0
        for n in 0..<12 {
            if d.process(Traffic.tcp(scanner, 40000, victim, UInt16(1 + n), .syn, at: Double(n) * 60)) != nil {
                alerts += 1
            }
            _ = d.sweep(now: Traffic.time(Double(n) * 60 + 59))
        }
        #expect(alerts == 1)
    }

    @Test func payloadSentBackToProbedHostsAfterTheScanIsCountedByHost() throws {
        let d = detector()
        for port in UInt16(1)...20 {  // the scan that declares the source
            _ = d.process(Traffic.tcp(scanner, 40001, victim, port, .syn))
            _ = d.process(Traffic.tcp(victim, port, scanner, 40001, [.rst, .ack]))
        }
        for n in 0..<8 {
            let host = Traffic.host(300 + n)
            _ = d.process(Traffic.tcp(scanner, 40000, host, 22, .syn, at: Double(n)))
            _ = d.process(Traffic.tcp(host, 22, scanner, 40000, [.syn, .ack], at: Double(n)))
            _ = d.process(Traffic.tcp(scanner, 40000, host, 22, .ack, at: Double(n)))
            if n < 6 {  // a login attempt: data on the pair it probed, several segments each
                for _ in 0..<3 {
                    _ = d.process(Traffic.tcp(scanner, 40000, host, 22, [.psh, .ack], at: Double(n), payload: 40))
                }
            }
        }
        // Data to a host it never probed does not count.
        _ = d.process(Traffic.tcp(scanner, 40002, Traffic.host(999), 443, [.psh, .ack], payload: 100))
        #expect(try #require(d.closeAll().first).payloadHosts == 6)
    }

    @Test func dataFromSourcesNeverDeclaredIsNotLookedAt() {
        let d = detector()
        let client = Traffic.host(50)
        let server = Traffic.host(60)
        _ = d.process(Traffic.tcp(client, 50000, server, 443, .syn, stackOptions: true))
        _ = d.process(Traffic.tcp(server, 443, client, 50000, [.syn, .ack]))
        for _ in 0..<100 { _ = d.process(Traffic.tcp(client, 50000, server, 443, [.psh, .ack], payload: 500)) }
        let slot = d.table.find(client)
        #expect(slot != nil && d.table.ones(slot!, SourceTable.Field.payloadHostBitmap) == 0)
    }

    @Test func ignoredSourcesAreNeverTracked() {
        let d = detector { $0.ignoredSources = [IPPrefix("198.18.0.0/24")!] }
        for port in UInt16(1)...60 { _ = d.process(Traffic.tcp(scanner, 1, victim, port, .syn)) }
        #expect(d.table.insertions == 0)
    }

    @Test func ipv6SourcesInOnePrefixShareAnEntryWhenGrouped() throws {
        let d = detector { $0.ipv6GroupPrefixLength = 64 }
        let target = IPAddress("2001:db8:0:2::10")!
        for n in UInt16(1)...60 {
            let source = IPAddress(high: 0x2001_0DB8_0000_0001, low: UInt64(n) * 7919)
            _ = d.process(Traffic.tcp(source, 40000, target, n, .syn))
        }
        #expect(d.table.insertions == 1)
        let episode = try #require(d.closeAll().first)
        #expect(episode.source == IPAddress(high: 0x2001_0DB8_0000_0001, low: 7919))
    }

    @Test func episodesCloseAfterTheIdleGapAndAfterTheMaximumLength() {
        let d = detector {
            $0.idleGap = .seconds(60)
            $0.maxEpisodeLength = .seconds(600)
        }
        for n in 0..<60 { _ = d.process(Traffic.tcp(scanner, 1, Traffic.host(n), 23, .syn, at: Double(n))) }
        #expect(d.sweep(now: Traffic.time(100)).isEmpty)  // 41 s idle: still open
        let closed = d.sweep(now: Traffic.time(120))
        #expect(closed.count == 1 && closed.first?.end == .idle)
        #expect(d.table.find(scanner) == nil)

        // One probe every 30 s never goes idle; the maximum length closes it.
        let other = Traffic.host(9999)
        for n in 0..<100 { _ = d.process(Traffic.tcp(other, 1, Traffic.host(n), 23, .syn, at: 1000 + Double(n) * 30)) }
        let long = d.sweep(now: Traffic.time(1000 + 99 * 30))
        #expect(long.count == 1 && long.first?.end == .maximumLength)
    }

    @Test func idleSourcesThatNeverScannedAreForgotten() {
        let d = detector { $0.idleGap = .seconds(60) }
        _ = d.process(Traffic.tcp(scanner, 1, victim, 80, .syn, at: 0))
        #expect(d.sweep(now: Traffic.time(61)).isEmpty)
        #expect(d.table.find(scanner) == nil)
    }

    @Test func aFloodOfSpoofedSourcesEvictsButNeverGrowsAndKeepsDeclaredScanners() throws {
        let d = detector { $0.maxSources = 256 }
        let before = d.table.memoryBytes
        for port in UInt16(1)...8 {
            _ = d.process(Traffic.tcp(scanner, 1, victim, port, .syn))
            _ = d.process(Traffic.tcp(victim, port, scanner, 1, [.rst, .ack]))
        }
        for n in 0..<100_000 {
            _ = d.process(Traffic.tcp(IPAddress(ipv4: 0x0A00_0000 | UInt32(n)), 1, victim, 80, .syn, at: 1))
        }
        #expect(d.table.memoryBytes == before)
        #expect(d.table.evictions > 90_000)
        #expect(try #require(d.closeAll().first).source == scanner)
    }
}

@Suite struct ScanDirectionTests {
    private func direction(from source: IPAddress, to targets: [IPAddress]) throws -> ScanDirection? {
        var configuration = DetectorConfiguration()
        configuration.maxSources = 1024
        configuration.homeNetwork = [IPPrefix("198.18.0.0/24")!]
        let d = ScanDetector(configuration: configuration, keys: .init(pair: 1, port: 2, host: 3))
        for (n, target) in targets.enumerated() {
            for port in UInt16(1)...6 {
                _ = d.process(Traffic.tcp(source, 40000, target, port, .syn, at: Double(n)))
                _ = d.process(Traffic.tcp(target, port, source, 40000, [.rst, .ack], at: Double(n)))
            }
        }
        return try #require(d.closeAll().first).direction
    }

    @Test func episodesSayWhichWayTheyWentRelativeToTheHomeNetwork() throws {
        let home = IPAddress("198.18.0.10")!
        let outside = IPAddress("198.19.7.7")!
        #expect(try direction(from: outside, to: [home]) == .inbound)
        #expect(try direction(from: home, to: [outside]) == .outbound)
        #expect(try direction(from: IPAddress("198.18.0.11")!, to: [home]) == .internal)
        #expect(try direction(from: IPAddress("198.19.1.1")!, to: [outside]) == .transit)
        #expect(try direction(from: outside, to: [home, IPAddress("198.19.9.9")!]) == .mixed)
    }
}
