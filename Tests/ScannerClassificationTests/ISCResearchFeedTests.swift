import ScanDetection
import ScannerClassification
import Testing
import WireFormat

@Suite struct ISCResearchFeedTests {
    @Test func theJSONFormatIsRead() throws {
        let json = """
            [{"ipv4":"4.16.74.81","added":"2020-07-18","lastseen":"2024-07-24","type":"scorecard"},
             {"ipv4":"198.51.100.9","added":"2021-01-01","lastseen":null,"type":"Shodan"}]
            """
        let feed = try ISCResearchFeed.parse(json, file: "research.json")
        #expect(feed.entries.map(\.address) == [IPAddress("4.16.74.81")!, IPAddress("198.51.100.9")!])
        #expect(feed.entries.map(\.type) == ["scorecard", "shodan"])
        #expect(feed.entries.map(\.lastSeen) == ["2024-07-24", nil])
    }

    @Test func theTabFormatIsReadWithOrWithoutAHeader() throws {
        let withHeader = try ISCResearchFeed.parse(
            "ipv4\tadded\tlastseen\ttype\n4.16.74.81\t2020-07-18\t2024-07-24\tscorecard\n", file: "research.tab")
        let without = try ISCResearchFeed.parse("4.16.74.81\t2020-07-18\t2024-07-24\tscorecard\n", file: "research.tab")
        for feed in [withHeader, without] {
            #expect(feed.entries.count == 1)
            #expect(feed.entries[0].address == IPAddress("4.16.74.81")! && feed.entries[0].type == "scorecard")
            #expect(feed.entries[0].added == "2020-07-18" && feed.entries[0].lastSeen == "2024-07-24")
        }
    }

    @Test func theXMLFormatIsReadWithLineNumbers() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <threatcategory>
            <research>
            <ipv4>4.16.74.81</ipv4>
            <added>2020-07-18</added>
            <lastseen>2024-07-24</lastseen>
            <type>scorecard</type>
            </research>
            <research><ipv4>198.51.100.9</ipv4><added>2021-01-01</added><lastseen>2026-08-01</lastseen><type>shodan</type></research>
            </threatcategory>
            """
        let feed = try ISCResearchFeed.parse(xml, file: "research.xml")
        #expect(feed.entries.map(\.type) == ["scorecard", "shodan"])
        #expect(feed.entries.map(\.line) == [3, 9])
    }

    @Test func aRecordWithoutAValidAddressIsAnError() {
        #expect(
            throws: KnowledgeFileError(
                file: "research.json", line: 0, message: "record 2: no valid address (\"4.16.74\")")
        ) {
            try ISCResearchFeed.parse(
                #"[{"ipv4":"4.16.74.81","type":"a"},{"ipv4":"4.16.74","type":"b"}]"#, file: "research.json")
        }
        #expect(throws: KnowledgeFileError(file: "research.tab", line: 2, message: "no valid address (\"scorecard\")"))
        {
            try ISCResearchFeed.parse("4.16.74.81\tshodan\nscorecard\t2020-01-01\n", file: "research.tab")
        }
    }

    @Test func anErrorPageSavedInPlaceOfTheFeedIsNoFeed() throws {
        #expect(
            throws: KnowledgeFileError(
                file: "research.xml", line: 0, message: "not an ISC research feed in XML: no <research> element")
        ) {
            try ISCResearchFeed.parse("<html><body>502 Bad Gateway</body></html>\n", file: "research.xml")
        }
        #expect(
            try ISCResearchFeed.parse("<?xml version=\"1.0\"?>\n<researchs></researchs>\n", file: "empty.xml").entries
                .isEmpty)
    }

    @Test func feedTypesAreReportedAsTheKnowledgeBasesOrganisations() throws {
        let feed = try ISCResearchFeed.parse(
            #"[{"ipv4":"198.51.100.9","type":"shodan","lastseen":"2026-08-10"},{"ipv4":"198.51.100.10","type":"newproject"}]"#,
            file: "/var/lib/scantap/research.json")
        let c = try Classifier(knowledge: shippedKnowledge, iscFeed: feed)
        let shodan = c.classify(address: IPAddress("198.51.100.9")!, observed: Observation())
        #expect(shodan.verdict == .research && shodan.organization == "Shodan")
        #expect(shodan.evidence == ["in the ISC research feed as shodan (research.json:1, last seen 2026-08-10)"])
        #expect(
            c.classify(address: IPAddress("198.51.100.10")!, observed: Observation()).organization
                == "ISC research feed type newproject")
        // A single feed address is not widened to its neighbours.
        #expect(c.classify(address: IPAddress("198.51.100.8")!, observed: Observation()).verdict == .unknown)
    }
}
