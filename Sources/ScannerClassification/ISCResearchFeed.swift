import FoundationEssentials
public import WireFormat

/// A saved copy of the SANS ISC research feed (https://isc.sans.edu/api/threatcategory/research):
/// single addresses of "commercial and academic projects that scan the internet", each with the
/// ISC `type` naming the project. The operator downloads it; the classifier never touches the
/// network. Entries stay single addresses: the feed lists hosts, not their neighbours.
///
/// All three formats the API serves are read, told apart by their first character: JSON (`?json`,
/// an array of objects), XML (the default, `<research>` elements) and tab-separated (`?tab`).
public struct ISCResearchFeed: Sendable {
    public struct Entry: Sendable {
        public let address: IPAddress
        /// The ISC project type, lower case (`shodan`, `censys`, `scorecard`, …).
        public let type: String
        public let added: String?
        public let lastSeen: String?
        /// Line of the entry in the file (for JSON, the 1-based record number).
        public let line: Int
    }

    public let file: String
    public let entries: [Entry]

    public static func load(path: String) throws(KnowledgeFileError) -> ISCResearchFeed {
        try parse(try TextFile.read(path), file: path)
    }

    public static func parse(_ text: String, file: String) throws(KnowledgeFileError) -> ISCResearchFeed {
        let entries: [Entry]
        switch text.first(where: { !$0.isWhitespace }) {
        case "[": entries = try parseJSON(text, file: file)
        case "<": entries = try parseXML(text, file: file)
        default: entries = try parseTab(text, file: file)
        }
        return ISCResearchFeed(file: file, entries: entries)
    }

    /// Checks one record's fields; `where` says where it is for the error.
    private static func entry(
        address: String?, type: String?, added: String?, lastSeen: String?, line: Int, file: String, where place: String
    ) throws(KnowledgeFileError) -> Entry {
        let errorLine = place.isEmpty ? line : 0
        func fail(_ message: String) -> KnowledgeFileError {
            KnowledgeFileError(file: file, line: errorLine, message: place.isEmpty ? message : "\(place): \(message)")
        }
        guard let address, let parsed = IPAddress(Substring(address).trimmingBlanks()) else {
            throw fail("no valid address (\(address.map { "\"\($0)\"" } ?? "missing"))")
        }
        guard let type = type.map({ String(Substring($0).trimmingBlanks()) }), !type.isEmpty else {
            throw fail("no type for \(address)")
        }
        return Entry(address: parsed, type: type.lowercased(), added: added, lastSeen: lastSeen, line: line)
    }

    private struct JSONRecord: Decodable {
        var ipv4: String?
        var ipv6: String?
        var ip: String?
        var type: String?
        var added: String?
        var lastseen: String?
    }

    private static func parseJSON(_ text: String, file: String) throws(KnowledgeFileError) -> [Entry] {
        let records: [JSONRecord]
        do {
            records = try JSONDecoder().decode([JSONRecord].self, from: Data(text.utf8))
        } catch {
            throw KnowledgeFileError(file: file, line: 0, message: "not an ISC research feed in JSON: \(error)")
        }
        var entries: [Entry] = []
        for (index, record) in records.enumerated() {
            entries.append(
                try entry(
                    address: record.ipv4 ?? record.ipv6 ?? record.ip, type: record.type, added: record.added,
                    lastSeen: record.lastseen, line: index + 1, file: file, where: "record \(index + 1)"))
        }
        return entries
    }

    private static func parseXML(_ text: String, file: String) throws(KnowledgeFileError) -> [Entry] {
        var entries: [Entry] = []
        var line = 1
        var scanned = text.startIndex
        for match in text.matches(of: /<research>(.*?)<\/research>/.dotMatchesNewlines()) {
            line += text[scanned..<match.range.lowerBound].count(where: { $0 == "\n" })
            scanned = match.range.lowerBound
            let body = match.output.1
            func element(_ name: String) -> String? {
                guard let open = body.firstRange(of: "<\(name)>"),
                    let close = body[open.upperBound...].firstRange(of: "</\(name)>")
                else { return nil }
                return String(body[open.upperBound..<close.lowerBound])
            }
            entries.append(
                try entry(
                    address: element("ipv4") ?? element("ipv6"), type: element("type"), added: element("added"),
                    lastSeen: element("lastseen"), line: line, file: file, where: ""))
        }
        // An empty feed says so (`<researchs/>`); markup without any (an HTML error page saved in
        // its place) is no feed.
        guard !entries.isEmpty || text.contains("<research") else {
            throw KnowledgeFileError(
                file: file, line: 0, message: "not an ISC research feed in XML: no <research> element")
        }
        return entries
    }

    /// Tab-separated rows. With a header row, columns are found by name (`ipv4`, `type`, `added`,
    /// `lastseen`); without one, the address is the column that parses as one, the first and
    /// second dates are `added` and `lastseen`, and the remaining column is the type, so the
    /// reader does not depend on the column order the API happens to use.
    private static func parseTab(_ text: String, file: String) throws(KnowledgeFileError) -> [Entry] {
        var columns: [String: Int]? = nil
        var entries: [Entry] = []
        for (number, line) in TextFile.lines(text) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map {
                String($0.trimmingBlanks())
            }
            if entries.isEmpty && columns == nil
                && fields.contains(where: { ["ipv4", "ip", "type"].contains($0.lowercased()) })
            {
                columns = Dictionary(fields.enumerated().map { ($1.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
                continue
            }
            func field(_ name: String) -> String? { columns?[name].flatMap { $0 < fields.count ? fields[$0] : nil } }
            if columns != nil {
                entries.append(
                    try entry(
                        address: field("ipv4") ?? field("ipv6") ?? field("ip"), type: field("type"),
                        added: field("added"), lastSeen: field("lastseen"), line: number, file: file, where: ""))
                continue
            }
            let addressIndex = fields.firstIndex { IPAddress($0) != nil }
            let dates = fields.indices.filter {
                $0 != addressIndex && fields[$0].wholeMatch(of: /\d{4}-\d{2}-\d{2}.*/) != nil
            }
            let type = fields.indices.first { $0 != addressIndex && !dates.contains($0) && !fields[$0].isEmpty }
            entries.append(
                try entry(
                    address: addressIndex.map { fields[$0] } ?? fields.first, type: type.map { fields[$0] },
                    added: dates.first.map { fields[$0] }, lastSeen: dates.dropFirst().first.map { fields[$0] },
                    line: number, file: file, where: ""))
        }
        return entries
    }
}
