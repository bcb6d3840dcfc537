import ScanDetection
import ScannerClassification
import Testing
import WireFormat

private let header = "org\tkind\tvalue\tsource\tsource_date\tconfidence\tstatus"

@Suite struct KnowledgeFileTests {
    @Test func theShippedKnowledgeBaseLoadsAndMarksTheUnclearOrganisations() throws {
        let rows = shippedKnowledge.rows
        #expect(rows.count > 500)
        let unclear = Set(rows.filter { $0.status == .unclear }.map(\.organization))
        #expect(unclear == ["Stretchoid", "InterneTTL", "NetSecScan", "Net Systems Research", "Open Port Stats"])
        // Stretchoid lives in shared Azure space: PTR rows only, never a block.
        #expect(
            !rows.contains { row in
                if row.organization == "Stretchoid", case .block = row.fact { return true } else { return false }
            })
    }

    @Test func anOperatorsOwnKnowledgeFileAddsOrganisationsAfterTheShippedRows() throws {
        let own = try KnowledgeBase.parse(
            "\(header)\nOur university\tcidr4\t192.0.2.0/26\tIT department\t2026-08-01\thigh\tlisted\n",
            file: "local.tsv")
        let c = try Classifier(knowledge: shippedKnowledge.merged(with: own))
        let result = c.classify(address: IPAddress("192.0.2.63")!, observed: Observation())
        #expect(
            result.organization == "Our university"
                && result.evidence == ["range 192.0.2.0/26 of Our university (local.tsv:2, high)"])
    }

    @Test func aRowWithAMissingColumnIsAnErrorNamingFileAndLine() {
        let text =
            "# comment\n\n\(header)\nShodan\tptr-suffix\t.shodan.io\tsrc\t2026-01-01\thigh\tlisted\nBroken\tcidr4\t192.0.2.0/24\tsrc\thigh\tlisted\n"
        #expect(
            throws: KnowledgeFileError(file: "kb.tsv", line: 5, message: "expected 7 tab-separated columns, found 6")
        ) {
            try KnowledgeBase.parse(text, file: "kb.tsv")
        }
    }

    @Test func aBlockWithHostBitsSetIsRefusedRatherThanWidened() {
        let text = "\(header)\nShodan\tcidr4\t89.248.167.131/24\tsrc\tn.d.\tmedium\tlisted\n"
        #expect(
            throws: KnowledgeFileError(
                file: "kb.tsv", line: 2,
                message: "89.248.167.131/24 has host bits set; the block would be 89.248.167.0/24")
        ) {
            try KnowledgeBase.parse(text, file: "kb.tsv")
        }
    }

    @Test func anUnknownKindConfidenceOrStatusIsAnError() throws {
        for (row, message) in [
            (
                "X\tcidr5\t1.2.3.0/24\ts\td\thigh\tlisted",
                "unknown kind \"cidr5\" (cidr4, cidr6, ptr-suffix, ptr-regex, asn, isc-type)"
            ),
            ("X\tcidr4\t1.2.3.0/24\ts\td\tsure\tlisted", "confidence must be high, medium or low, not \"sure\""),
            ("X\tcidr4\t1.2.3.0/24\ts\td\thigh\tmaybe", "status must be listed or unclear, not \"maybe\""),
            ("X\tcidr4\t2001:db8::/32\ts\td\thigh\tlisted", "2001:db8::/32 is not an IPv4 block"),
            (
                "X\tptr-regex\tscan\\.example\\.org\ts\td\thigh\tlisted",
                "a ptr-regex is a valid regular expression anchored with ^ and $: \"scan\\.example\\.org\""
            ),
            ("X\tasn\t12345\ts\td\thigh\tlisted", "an asn is written AS<number>: \"12345\""),
        ] {
            #expect(throws: KnowledgeFileError(file: "kb.tsv", line: 2, message: message)) {
                try KnowledgeBase.parse("\(header)\n\(row)\n", file: "kb.tsv")
            }
        }
    }

    @Test func aFileWithoutTheHeaderIsAnErrorOnItsFirstDataLine() {
        #expect(
            throws: KnowledgeFileError(
                file: "kb.tsv", line: 2,
                message: "expected the header \(header.split(separator: "\t").joined(separator: " ")) (tab-separated)")
        ) {
            try KnowledgeBase.parse(
                "# only a comment\nShodan\tptr-suffix\t.shodan.io\ts\td\thigh\tlisted\n", file: "kb.tsv")
        }
    }

    @Test func aListFileReadsBlocksLabelsAndWindowsLineEnds() throws {
        let list = try AddressList.parse("# vendors\r\n192.0.2.0/24 Acme\r\n2001:db8::1\r\n", file: "allow.txt")
        #expect(list.entries.map(\.prefix) == [IPPrefix("192.0.2.0/24")!, IPPrefix("2001:db8::1/128")!])
        #expect(list.entries.map(\.label) == ["Acme", nil])
        #expect(list.entries.map(\.line) == [2, 3])
    }

    @Test func aBadListEntryIsAnErrorNamingFileAndLine() {
        #expect(
            throws: KnowledgeFileError(
                file: "deny.txt", line: 3, message: "not an address or address block: \"198.51.100.300\"")
        ) {
            try AddressList.parse("192.0.2.1\n\n198.51.100.300\n", file: "deny.txt")
        }
    }

    @Test func aMissingFileIsAnErrorNamingIt() {
        #expect(
            throws: KnowledgeFileError(
                file: "/nonexistent/deny.txt", line: 0, message: "cannot read: No such file or directory")
        ) {
            try AddressList.load(path: "/nonexistent/deny.txt")
        }
    }
}
