import ScanDetection
import ScannerClassification
import Testing
import WireFormat

/// A made-up database placing documentation space in Censys's AS398324.
private let database = """
    198.51.100.0\t198.51.100.127\t398324\tUS\tCENSYS-ARIN-01
    198.51.100.128\t198.51.100.255\t0\tNone\tNot routed
    2001:db8::\t2001:db8::ffff\t398324\tUS\tCENSYS-ARIN-01
    """

@Suite struct ASNDatabaseTests {
    @Test func asnRowsApplyOnlyWhenAnIPToASNDatabaseIsGiven() throws {
        let address = IPAddress("198.51.100.127")!
        let without = try Classifier(knowledge: shippedKnowledge)
        #expect(without.classify(address: address, observed: Observation()).verdict == .unknown)

        let asn = try ASNDatabase.parse(database, file: "/data/ip2asn-combined.tsv")
        let with = try Classifier(knowledge: shippedKnowledge, asnDatabase: asn)
        let result = with.classify(address: address, observed: Observation())
        #expect(result.verdict == .research && result.organization == "Censys")
        #expect(result.evidence.count == 1)
        #expect(result.evidence[0].hasPrefix("announced by AS398324 of Censys (research-scanners.tsv:"))
        #expect(result.evidence[0].hasSuffix("per ip2asn-combined.tsv:1"))
        #expect(with.classify(address: IPAddress("2001:db8::ffff")!, observed: Observation()).organization == "Censys")
        // Unrouted space and the address after the range are nobody's.
        #expect(with.classify(address: IPAddress("198.51.100.128")!, observed: Observation()).verdict == .unknown)
        #expect(with.classify(address: IPAddress("2001:db8::1:0")!, observed: Observation()).verdict == .unknown)
    }

    @Test func overlappingDatabaseRangesAreAnErrorNamingTheLine() {
        #expect(
            throws: KnowledgeFileError(
                file: "asn.tsv", line: 2, message: "range starts at or before the previous range's end")
        ) {
            try ASNDatabase.parse(
                "1.0.0.0\t1.0.0.255\t13335\tUS\tCF\n1.0.0.128\t1.0.1.255\t13335\tUS\tCF\n", file: "asn.tsv")
        }
    }
}
