public import WireFormat

/// An IP-to-ASN database the operator supplies, so the knowledge base's `asn` rows can apply.
///
/// Without one, `asn` rows are loaded and checked but never match: an autonomous system is only
/// as good as the mapping from addresses to it, and the sensor ships none (they go stale
/// within weeks). Format: iptoasn.com's `ip2asn-v4.tsv`, `ip2asn-v6.tsv` or
/// `ip2asn-combined.tsv` — tab-separated `range_start range_end AS_number country_code
/// AS_description`, ranges inclusive and in ascending order; AS 0 marks unrouted space.
public struct ASNDatabase: Sendable {
    public struct Entry: Sendable {
        public let autonomousSystem: UInt32
        public let line: Int
    }

    public let file: String
    let table: AddressRangeTable<Entry>

    public static func load(path: String) throws(KnowledgeFileError) -> ASNDatabase {
        try parse(try TextFile.read(path), file: path)
    }

    public static func parse(_ text: String, file: String) throws(KnowledgeFileError) -> ASNDatabase {
        var ranges: [(start: IPAddress, end: IPAddress, value: Entry)] = []
        var previous: (v4: IPAddress?, v6: IPAddress?) = (nil, nil)
        for (lineNumber, line) in TextFile.lines(text) {
            func fail(_ message: String) -> KnowledgeFileError {
                KnowledgeFileError(file: file, line: lineNumber, message: message)
            }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 3 else { throw fail("expected range_start, range_end and AS_number, tab-separated") }
            guard let start = IPAddress(fields[0]), let end = IPAddress(fields[1]), start.isIPv4 == end.isIPv4,
                start <= end
            else { throw fail("not an address range: \(fields[0]) – \(fields[1])") }
            guard let asNumber = UInt32(fields[2]) else { throw fail("not an AS number: \"\(fields[2])\"") }
            // Ascending and disjoint per family, as the format promises: checked, because a
            // partial overlap has no longest match.
            let last = start.isIPv4 ? previous.v4 : previous.v6
            if let last, start <= last { throw fail("range starts at or before the previous range's end") }
            if start.isIPv4 { previous.v4 = end } else { previous.v6 = end }
            if asNumber != 0 { ranges.append((start, end, Entry(autonomousSystem: asNumber, line: lineNumber))) }
        }
        return ASNDatabase(file: file, table: AddressRangeTable(ranges: ranges))
    }

    /// The database row announcing `address`, or nil (unrouted, or not in the database).
    public func entry(for address: IPAddress) -> Entry? {
        table.lookup(address)
    }
}
