import ScanDetection
import ScannerClassification
import Testing
import WireFormat
import _ScanTapTestSupport

let shippedKnowledge: KnowledgeBase = try! KnowledgeBase.load(path: Checkout.shippedKnowledge)

private func classifier(
    allow: String? = nil, deny: String? = nil, _ configure: (inout ClassifierConfiguration) -> Void = { _ in }
) throws -> Classifier {
    var configuration = ClassifierConfiguration()
    configure(&configuration)
    return try Classifier(
        knowledge: shippedKnowledge,
        allowLists: try allow.map { [try AddressList.parse($0, file: "allow.txt")] } ?? [],
        denyLists: try deny.map { [try AddressList.parse($0, file: "deny.txt")] } ?? [],
        configuration: configuration)
}

private func classify(
    _ address: String, _ observed: Observation = Observation(), ptr: ConfirmedPTR? = nil, with c: Classifier? = nil
)
    throws -> ClassificationResult
{
    try (c ?? classifier()).classify(address: IPAddress(address)!, observed: observed, ptr: ptr)
}

/// A vertical scan of ordinary ports: nothing malicious about its shape.
private let survey = Observation(tool: "zmap", ports: [21, 22, 80, 443, 8080], distinctPorts: 900)

@Suite struct ClassifierTests {
    @Test(arguments: [
        ("162.142.125.0/24", "Censys"),
        ("206.168.32.0/22", "Censys"),
        ("184.105.247.192/26", "Shadowserver Foundation"),
        ("71.6.233.0/24", "Rapid7 Project Sonar"),
        ("45.83.64.0/22", "Alpha Strike Labs"),
        ("137.226.113.0/26", "RWTH Aachen University"),
        ("87.236.176.0/24", "Driftnet / Internet Measurement"),
    ])
    func theFirstAndLastAddressOfAListedRangeAreTheOrganisationsAndTheirNeighboursAreNot(range: String, org: String)
        throws
    {
        let prefix = IPPrefix(range)!
        let first = prefix.network.ipv4Value
        let last = first | (UInt32.max >> UInt32(prefix.length))
        let c = try classifier()
        for inside in [first, last] {
            let result = c.classify(address: IPAddress(ipv4: inside), observed: survey)
            #expect(result.verdict == .research && result.organization == org, "\(IPAddress(ipv4: inside))")
            #expect(result.evidence.first?.hasPrefix("range \(range) of \(org) (research-scanners.tsv:") == true)
        }
        for outside in [first - 1, last + 1] {
            let result = c.classify(address: IPAddress(ipv4: outside), observed: survey)
            #expect(result.verdict == .unknown && result.organization == nil, "\(IPAddress(ipv4: outside))")
        }
    }

    @Test func shodansSingleAddressIsNotWidenedOverItsNetSecScanNeighbour() throws {
        let shodan = try classify("89.248.167.131", survey)
        #expect(shodan.verdict == .research && shodan.organization == "Shodan")
        let neighbour = try classify("89.248.167.132", survey)
        #expect(neighbour.organization == "NetSecScan")
        #expect(neighbour.evidence.contains { $0.contains("identity or ethics are unclear") })
        #expect(neighbour.confidence <= 0.5)
        #expect(try classify("89.248.167.130", survey).organization == nil)
    }

    @Test func anIPv6RangeIsMatchedAtItsEdgesOnly() throws {
        #expect(try classify("2001:470:1:c84::", survey).organization == "Shadowserver Foundation")
        #expect(try classify("2001:470:1:c84:ffff:ffff:ffff:ffff", survey).organization == "Shadowserver Foundation")
        #expect(try classify("2001:470:1:c83:ffff:ffff:ffff:ffff", survey).organization == nil)
        #expect(try classify("2001:470:1:c85::", survey).organization == nil)
    }

    @Test func aDenyListEntryMakesAListedResearchAddressMaliciousAndKeepsItsOrganisation() throws {
        let c = try classifier(deny: "# our incident from last week\n162.142.125.0/25\n")
        let result = try classify("162.142.125.9", survey, with: c)
        #expect(result.verdict == .malicious && result.organization == "Censys")
        #expect(result.evidence.contains { $0.hasPrefix("range 162.142.125.0/24 of Censys") })
        #expect(result.evidence.contains("in the deny list (162.142.125.0/25, deny.txt:2)"))
        #expect(result.evidence.last == "behaviour overrides the research listing of Censys")
    }

    @Test func payloadToManyScannedHostsIsMaliciousAndAFewBannersAreNot() throws {
        let c = try classifier()
        var episode = Episode(
            source: IPAddress("198.51.100.24")!, firstSeen: Timestamp(nanoseconds: 0),
            lastSeen: Timestamp(nanoseconds: 1),
            technique: .connect, shape: .horizontal, probes: 300, distinctPorts: 1, distinctTargets: 250, ports: [22],
            detectedAfter: 5, declaredAt: Timestamp(nanoseconds: 1), decidedBy: .sequentialTest, successes: 12,
            failures: 200, end: .idle)
        episode.payloadHosts = 12
        let brute = c.classify(episode, ptr: nil)
        #expect(brute.verdict == .malicious)
        #expect(
            brute.evidence.contains("payload sent to 12 hosts after probing them: logins or exploits follow the scan"))
        episode.payloadHosts = 2
        #expect(c.classify(episode, ptr: nil).verdict == .unknown)
    }

    @Test func aMiraiEpisodeFromAnAddressNobodyListsIsMalicious() throws {
        let c = try classifier()
        var episode = Episode(
            source: IPAddress("198.51.100.23")!, firstSeen: Timestamp(nanoseconds: 0),
            lastSeen: Timestamp(nanoseconds: 1),
            technique: .syn, shape: .horizontal, probes: 500, distinctPorts: 2, distinctTargets: 480,
            ports: [23, 2323],
            detectedAfter: 50, declaredAt: Timestamp(nanoseconds: 1), decidedBy: .unansweredContacts, successes: 0,
            failures: 0, end: .idle)
        episode.tool = "mirai"
        episode.toolConfidence = 1.0
        let result = c.classify(episode, ptr: nil)
        #expect(result.verdict == .malicious && result.organization == nil)
        #expect(
            result.evidence.contains(
                "Mirai fingerprint: TCP sequence number equals the target address in 100 % of the first probes"))
        #expect(result.confidence >= 0.9)
        #expect(c.classify(episode).verdict == .malicious)
    }

    @Test func aListedResearchRangeBehavingLikeMiraiIsMaliciousKeepsItsOrganisationAndSaysBoth() throws {
        let result = try classify("71.6.233.10", Observation(tool: "mirai", toolConfidence: 0.95, ports: [23]))
        #expect(result.verdict == .malicious && result.organization == "Rapid7 Project Sonar")
        #expect(result.evidence.first?.hasPrefix("range 71.6.233.0/24 of Rapid7 Project Sonar") == true)
        #expect(result.evidence.contains { $0.hasPrefix("Mirai fingerprint") })
        #expect(result.evidence.last == "behaviour overrides the research listing of Rapid7 Project Sonar")
    }

    @Test func aNarrowScanOfExploitedServicesIsMaliciousFromAnUnlistedAddress() throws {
        let result = try classify("203.0.113.5", Observation(ports: [445, 3389], distinctPorts: 2))
        #expect(result.verdict == .malicious)
        #expect(result.evidence == ["scan aimed only at commonly exploited services: 445/smb, 3389/rdp"])
    }

    @Test func aWideScanThatIncludesExploitedPortsIsNotAimedAtThem() throws {
        #expect(try classify("203.0.113.5", Observation(ports: [23, 445], distinctPorts: 800)).verdict == .unknown)
        #expect(try classify("203.0.113.5", Observation(ports: [23, 80], distinctPorts: 2)).verdict == .unknown)
    }

    @Test func exploitedServicesFromAListedResearcherAreRecordedButDoNotOverrideUnlessConfigured() throws {
        let aimed = Observation(ports: [23, 2323], distinctPorts: 2)
        let kept = try classify("184.105.247.200", aimed)
        #expect(kept.verdict == .research && kept.organization == "Shadowserver Foundation")
        #expect(
            kept.evidence.contains {
                $0.hasPrefix("scan aimed only at commonly exploited services: 23/telnet, 2323/telnet-alt;")
            })
        let strict = try classifier { $0.exploitedPortsOverrideResearch = true }
        let overridden = try classify("184.105.247.200", aimed, with: strict)
        #expect(overridden.verdict == .malicious && overridden.organization == "Shadowserver Foundation")
    }

    @Test func aDemotedOrganisationIsNamedButNotCalledResearch() throws {
        let c = try classifier { $0.demotedOrganizations = ["Censys"] }
        let result = try classify("162.142.125.1", survey, with: c)
        #expect(result.verdict == .unknown && result.organization == "Censys" && result.confidence == 0)
        #expect(result.evidence.last == "Censys is demoted by configuration: not called research")
    }

    @Test func aDroppedOrganisationIsNeverAttributed() throws {
        let c = try classifier { $0.droppedOrganizations = ["Shodan"] }
        let result = try classify(
            "89.248.167.131", survey, ptr: ConfirmedPTR(name: "census1.shodan.io", forwardConfirmed: true), with: c)
        #expect(result.verdict == .unknown && result.organization == nil && result.evidence.isEmpty)
    }

    @Test func demotingAnOrganisationTheKnowledgeBaseDoesNotKnowIsAnError() {
        #expect(throws: ClassifierSetupError(message: "no organisation named \"Shodann\" in the knowledge base")) {
            try classifier { $0.demotedOrganizations = ["Shodann"] }
        }
    }

    @Test func anAllowListEntryNamesTheOperatorsLabel() throws {
        let c = try classifier(allow: "192.0.2.0/28   Acme pentest (contract 42)\n")
        let result = try classify("192.0.2.15", survey, with: c)
        #expect(result.verdict == .research && result.organization == "Acme pentest (contract 42)")
        #expect(try classify("192.0.2.16", survey, with: c).verdict == .unknown)
    }

    @Test func aForwardConfirmedPTRAttributesAnUnlistedAddress() throws {
        let result = try classify(
            "198.51.100.7", survey, ptr: ConfirmedPTR(name: "Census3.Shodan.IO.", forwardConfirmed: true))
        #expect(result.verdict == .research && result.organization == "Shodan")
        #expect(
            result.evidence.count == 1
                && result.evidence[0].hasPrefix("forward-confirmed PTR census3.shodan.io matches Shodan"))
    }

    @Test func aPTRThatDoesNotForwardConfirmGivesNoResearchVerdictAndSaysWhy() throws {
        let result = try classify(
            "198.51.100.7", survey, ptr: ConfirmedPTR(name: "scan-21a.shadowserver.org", forwardConfirmed: false))
        #expect(result.verdict == .unknown && result.organization == nil)
        #expect(
            result.evidence.count == 1
                && result.evidence[0].hasSuffix(
                    "but does not forward-confirm: not used, as the address holder can set any PTR")
        )
    }

    @Test func aPTRSuffixMatchesOnlyAtALabelBoundary() throws {
        let result = try classify(
            "198.51.100.7", survey, ptr: ConfirmedPTR(name: "evilshodan.io", forwardConfirmed: true))
        #expect(result.verdict == .unknown && result.evidence.isEmpty)
    }

    @Test func aConfirmedPTRAgreeingWithTheRangeRaisesConfidence() throws {
        let alone = try classify("184.105.247.247", survey)
        let both = try classify(
            "184.105.247.247", survey, ptr: ConfirmedPTR(name: "scan-21a.shadowserver.org", forwardConfirmed: true))
        #expect(both.organization == "Shadowserver Foundation" && both.confidence > alone.confidence)
        #expect(both.evidence.count == 2)
    }
}
