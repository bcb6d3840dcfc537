import DShieldReport
import Testing
import WireFormat

private let home = [IPPrefix("203.0.113.0/24")!, IPPrefix("2001:db8:1::/48")!]
private let server = "203.0.113.10"

/// A decoded packet at `second` of the example day.
private func packet(
    _ source: String, _ sport: UInt16, _ destination: String, _ dport: UInt16, _ transport: Transport = .tcp,
    flags: TCPFlags = [], at second: Int64 = 0, icmp: (UInt8, UInt8) = (0, 0), quoting: QuotedPacket? = nil
) -> DecodedPacket {
    var p = DecodedPacket()
    p.timestamp = Timestamp(seconds: exampleTime + second)
    p.source = IPAddress(source)!
    p.destination = IPAddress(destination)!
    p.ipVersion = p.source.isIPv4 ? 4 : 6
    p.transport = transport
    p.ipProtocol =
        switch transport {
        case .tcp: 6
        case .udp: 17
        case .icmp: 1
        case .icmpv6: 58
        default: 47
        }
    p.sourcePort = sport
    p.destinationPort = dport
    p.tcpFlags = flags
    (p.icmpType, p.icmpCode) = icmp
    p.quoted = quoting
    return p
}

private func run(
    _ packets: [DecodedPacket], policy: ReportPolicy, configure: (inout FlowTableConfiguration) -> Void = { _ in }
) -> [DShieldRecord] {
    var configuration = FlowTableConfiguration(homeNetwork: home, policy: policy)
    configure(&configuration)
    let table = FlowTable(configuration)
    var records: [DShieldRecord] = []
    for p in packets { table.process(p, into: &records) }
    table.finish(into: &records)
    return records
}

@Suite struct FlowTableTests {
    @Test func aRetransmittedSynIsOneRecordCarryingTheFirstPacket() {
        let syns = [0, 1, 3, 7].map { packet("198.51.100.7", 48211, server, 23, flags: .syn, at: $0) }
        let records = run(syns, policy: .all)
        #expect(records == [record("198.51.100.7", 48211, 23, proto: 6, flags: .syn)])
    }

    @Test func answersToAFlowAHomeHostOpenedAreNeverReported() {
        let packets = [
            packet(server, 40000, "198.51.100.7", 443, flags: .syn, at: 0),
            packet("198.51.100.7", 443, server, 40000, flags: [.syn, .ack], at: 0),
            packet("198.51.100.7", 443, server, 40000, flags: [.ack, .psh], at: 1),
            packet(server, 40001, "198.51.100.7", 53, .udp, at: 2),
            packet("198.51.100.7", 53, server, 40001, .udp, at: 2),
            // An ICMP error about a home host's own datagram is related, not new.
            packet(
                "198.51.100.8", 0, server, 0, .icmp, at: 3, icmp: (3, 3),
                quoting: QuotedPacket(
                    source: IPAddress(server)!, destination: IPAddress("198.51.100.8")!, ipProtocol: 17,
                    sourcePort: 40002, destinationPort: 33434)),
        ]
        #expect(run(packets, policy: .all).isEmpty)
        #expect(run(packets, policy: .failed).isEmpty)
    }

    @Test func failedReportsRefusedAndUnansweredAttemptsButNotAnsweredOnes() {
        let packets = [
            packet("198.51.100.1", 1111, server, 22, flags: .syn, at: 0),  // answered by SYN/ACK
            packet(server, 22, "198.51.100.1", 1111, flags: [.syn, .ack], at: 0),
            packet("198.51.100.2", 2222, server, 23, flags: .syn, at: 1),  // refused by RST
            packet(server, 23, "198.51.100.2", 2222, flags: [.rst, .ack], at: 1),
            packet("198.51.100.3", 3333, server, 445, flags: .syn, at: 2),  // never answered
            packet("198.51.100.4", 4444, server, 53, .udp, at: 3),  // answered
            packet(server, 53, "198.51.100.4", 4444, .udp, at: 3),
            packet("198.51.100.5", 5555, server, 161, .udp, at: 4),  // port unreachable
            packet(
                server, 0, "198.51.100.5", 0, .icmp, at: 4, icmp: (3, 3),
                quoting: QuotedPacket(
                    source: IPAddress("198.51.100.5")!, destination: IPAddress(server)!, ipProtocol: 17,
                    sourcePort: 5555, destinationPort: 161)),
            packet("198.51.100.6", 0, server, 0, .icmp, at: 5, icmp: (8, 0)),  // ping, answered
            packet(server, 0, "198.51.100.6", 0, .icmp, at: 5, icmp: (0, 0)),
            packet("198.51.100.9", 9999, server, 80, flags: .ack, at: 6),  // no attempt: ACK
        ]
        let records = run(packets, policy: .failed)
        #expect(records.map(\.source.description) == ["198.51.100.2", "198.51.100.5", "198.51.100.3"])
        #expect(records[1].ipProtocol == 17 && records[1].destinationPort == 161)
    }

    @Test func anAnswerFedBeforeItsAttemptStillDecidesItByPacketTime() {
        // Each direction of a tap on its own interface: the answer's capture thread may hand it
        // over first.
        let refused = [
            packet(server, 23, "198.51.100.2", 2222, flags: [.rst, .ack], at: 1),
            packet("198.51.100.2", 2222, server, 23, flags: .syn, at: 0),
        ]
        #expect(run(refused, policy: .failed) == [record("198.51.100.2", 2222, 23, proto: 6, flags: .syn)])
        let accepted = [
            packet(server, 22, "198.51.100.1", 1111, flags: [.syn, .ack], at: 1),
            packet("198.51.100.1", 1111, server, 22, flags: .syn, at: 0),
            packet(server, 53, "198.51.100.4", 4444, .udp, at: 3),
            packet("198.51.100.4", 4444, server, 53, .udp, at: 2),
        ]
        #expect(run(accepted, policy: .failed).isEmpty)
        #expect(run(accepted, policy: .all).map(\.destinationPort) == [22, 53])
        // A flow the home host opened stays its own when the outside speaks later.
        let outgoing = [
            packet(server, 40000, "198.51.100.7", 443, flags: .syn, at: 0),
            packet("198.51.100.7", 443, server, 40000, flags: [.syn, .ack], at: 1),
            packet(server, 40001, "198.51.100.7", 53, .udp, at: 2),
            packet("198.51.100.7", 53, server, 40001, .udp, at: 3),
        ]
        #expect(run(outgoing, policy: .all).isEmpty)
    }

    @Test func aQuietPeerOfAFlowAHomeHostOpenedIsNotANewInboundFlowWhenItSpeaksAgain() {
        // A long poll: the server answers, then says nothing for three minutes (past the
        // unanswered idle timeout, well inside the answered one).
        let packets = [
            packet(server, 40000, "198.51.100.7", 443, flags: .syn, at: 0),
            packet("198.51.100.7", 443, server, 40000, flags: [.syn, .ack], at: 0),
            packet(server, 40000, "198.51.100.7", 443, flags: .ack, at: 0),
            packet("198.51.100.7", 443, server, 40000, flags: [.ack, .psh], at: 180),
        ]
        #expect(run(packets, policy: .all).isEmpty)
    }

    @Test func failedWithholdsARecordUntilTheAnswerDeadlineInPacketTime() {
        var configuration = FlowTableConfiguration(homeNetwork: home, policy: .failed)
        configuration.answerDeadline = .seconds(30)
        let table = FlowTable(configuration)
        var records: [DShieldRecord] = []
        table.process(packet("198.51.100.3", 3333, server, 445, flags: .syn, at: 0), into: &records)
        table.process(packet("198.51.100.4", 1, server, 1, flags: .syn, at: 29), into: &records)
        #expect(records.isEmpty)
        table.advance(to: Timestamp(seconds: exampleTime + 30), into: &records)
        #expect(records.map(\.source.description) == ["198.51.100.3"])
        #expect(records[0].time == exampleTime)
    }

    @Test func excludedSourcesAndGroupDestinationsAreNeverReported() {
        let packets = [
            packet("10.1.2.3", 1, server, 22, flags: .syn),
            packet("192.168.1.1", 1, server, 22, flags: .syn),
            packet("100.64.0.1", 1, server, 22, flags: .syn),
            packet("255.255.255.255", 1, server, 22, flags: .syn),
            packet("198.51.100.77", 1, server, 22, flags: .syn),  // the admin's address
            packet("198.51.100.7", 68, "203.0.113.255", 67, .udp),  // directed broadcast
            packet("198.51.100.7", 5353, "224.0.0.251", 5353, .udp),  // multicast
        ]
        // The home network written too wide (the multicast block included) still reports no
        // group destination.
        #expect(
            run(packets, policy: .all) {
                $0.exclusions = AddressExclusions(extra: [IPPrefix("198.51.100.77")!])
                $0.homeNetwork.append(IPPrefix("224.0.0.0/4")!)
            }.isEmpty)
        let exclusions = AddressExclusions()
        for kept in ["198.51.100.1", "203.0.113.1", "198.18.0.1", "0.0.0.1"] {
            #expect(!exclusions.excludesSource(IPAddress(kept)!))
        }
        for dropped in [
            "10.0.0.0", "172.31.255.255", "169.254.1.1", "192.0.0.8", "192.0.2.1", "127.0.0.1", "239.1.1.1",
            "240.0.0.1", "fe80::1", "fd00::1",
        ] {
            #expect(exclusions.excludesSource(IPAddress(dropped)!))
        }
    }

    @Test func ipv6RecordsNeedTheOptionAndSkipNonGlobalSources() {
        let syn = packet("2a00:1450::7", 1, "2001:db8:1::10", 22, flags: .syn)
        let documentation = packet("2001:db8:ffff::7", 1, "2001:db8:1::10", 22, flags: .syn)
        #expect(run([syn], policy: .all).isEmpty)
        let records = run([syn, documentation], policy: .all) { $0.includeIPv6 = true }
        #expect(records.count == 1 && records[0].ipVersion == 6)
    }

    @Test func aFullTableReportsNewAttemptsUntrackedAndStaysBounded() {
        let table = FlowTable(FlowTableConfiguration(homeNetwork: home, policy: .failed, maximumFlows: 4))
        var records: [DShieldRecord] = []
        for i in 0..<10 { table.process(packet("198.51.100.\(i + 1)", 1000, server, 22, flags: .syn), into: &records) }
        #expect(table.count == 4 && table.untrackedFlows == 6 && records.count == 6)
        table.finish(into: &records)
        #expect(records.count == 10)
    }

    @Test func scansReportsOnlyDeclaredSourcesAtTheDeadline() {
        let table = FlowTable(FlowTableConfiguration(homeNetwork: home, policy: .scans)) {
            $0 == IPAddress("198.51.100.66")!
        }
        var records: [DShieldRecord] = []
        table.process(packet("198.51.100.66", 1, server, 22, flags: .syn, at: 0), into: &records)
        table.process(packet(server, 22, "198.51.100.66", 1, flags: [.syn, .ack], at: 0), into: &records)
        table.process(packet("198.51.100.67", 1, server, 23, flags: .syn, at: 0), into: &records)
        table.advance(to: Timestamp(seconds: exampleTime + 31), into: &records)
        #expect(records.map(\.source.description) == ["198.51.100.66"])
    }
}
