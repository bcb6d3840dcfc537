public import WireFormat

/// A file the classifier loads could not be used; names the file, the line and what is wrong.
public struct KnowledgeFileError: Error, Equatable, CustomStringConvertible {
    public let file: String
    /// 1-based; 0 when the problem is the file as a whole (unreadable, not JSON).
    public let line: Int
    public let message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

/// How far a row's sources can be trusted (see the header of `knowledge/research-scanners.tsv`).
public enum RowConfidence: String, Sendable, Comparable, CaseIterable {
    case low, medium, high

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
    private var rank: Int { Self.allCases.firstIndex(of: self)! }
}

/// Whether an organisation's identity and ethics are clear enough to call its scans research.
public enum OrganizationStatus: String, Sendable {
    case listed
    /// The reference calls its identity or ethics unclear; matches say so in their evidence.
    case unclear
}

/// What one knowledge-base row says about an organisation.
public enum KnowledgeFact: Sendable, Equatable {
    /// An IPv4 or IPv6 block in strict network form.
    case block(IPPrefix)
    /// Matches a PTR name ending with this suffix at a label boundary; starts with a dot.
    case ptrSuffix(String)
    /// An anchored regular expression over the whole PTR name.
    case ptrPattern(String)
    /// An autonomous system, usable only with an IP-to-ASN database.
    case autonomousSystem(UInt32)
    /// A `type` of the ISC research feed that names this organisation.
    case iscType(String)
}

/// One row of the knowledge base, with where it came from.
public struct KnowledgeRow: Sendable {
    public let organization: String
    public let fact: KnowledgeFact
    public let source: String
    public let sourceDate: String
    public let confidence: RowConfidence
    public let status: OrganizationStatus
    /// Where the row was read, for evidence a reader can follow back.
    public let file: String
    public let line: Int
}

/// The research-scanner knowledge base: the shipped `knowledge/research-scanners.tsv` and any
/// further files in the same format.
public struct KnowledgeBase: Sendable {
    public private(set) var rows: [KnowledgeRow] = []

    public init(rows: [KnowledgeRow] = []) {
        self.rows = rows
    }

    /// Every organisation named by at least one row.
    public var organizations: Set<String> { Set(rows.map(\.organization)) }

    /// The column header every knowledge file starts with (after its comments).
    static let header = ["org", "kind", "value", "source", "source_date", "confidence", "status"]

    /// Reads a knowledge file.
    ///
    /// - Throws: `KnowledgeFileError` naming the file and line of the first bad row.
    public static func load(path: String) throws(KnowledgeFileError) -> KnowledgeBase {
        try parse(try TextFile.read(path), file: path)
    }

    /// Parses knowledge-file text; `file` names it in errors and evidence.
    public static func parse(_ text: String, file: String) throws(KnowledgeFileError) -> KnowledgeBase {
        var base = KnowledgeBase()
        var sawHeader = false
        for (number, line) in TextFile.lines(text) {
            func fail(_ message: String) -> KnowledgeFileError {
                KnowledgeFileError(file: file, line: number, message: message)
            }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard sawHeader else {
                guard fields == header else {
                    throw fail("expected the header \(header.joined(separator: " ")) (tab-separated)")
                }
                sawHeader = true
                continue
            }
            guard fields.count == header.count else {
                throw fail("expected \(header.count) tab-separated columns, found \(fields.count)")
            }
            let (organization, kind, value) = (fields[0], fields[1], fields[2])
            guard !organization.isEmpty else { throw fail("empty org") }
            guard let confidence = RowConfidence(rawValue: fields[5]) else {
                throw fail("confidence must be high, medium or low, not \"\(fields[5])\"")
            }
            guard let status = OrganizationStatus(rawValue: fields[6]) else {
                throw fail("status must be listed or unclear, not \"\(fields[6])\"")
            }
            let fact: KnowledgeFact
            switch kind {
            case "cidr4", "cidr6":
                let prefix: IPPrefix
                do { prefix = try AddressList.strictPrefix(value) } catch { throw fail(error.message) }
                guard prefix.network.isIPv4 == (kind == "cidr4") else {
                    throw fail("\(value) is not an \(kind == "cidr4" ? "IPv4" : "IPv6") block")
                }
                fact = .block(prefix)
            case "ptr-suffix":
                guard value.hasPrefix("."), value.count > 1, value == value.lowercased() else {
                    throw fail("a ptr-suffix starts with a dot and is lower case: \"\(value)\"")
                }
                fact = .ptrSuffix(value)
            case "ptr-regex":
                guard value.hasPrefix("^"), value.hasSuffix("$"), (try? Regex(value)) != nil else {
                    throw fail("a ptr-regex is a valid regular expression anchored with ^ and $: \"\(value)\"")
                }
                fact = .ptrPattern(value)
            case "asn":
                guard value.hasPrefix("AS"), let number = UInt32(value.dropFirst(2)) else {
                    throw fail("an asn is written AS<number>: \"\(value)\"")
                }
                fact = .autonomousSystem(number)
            case "isc-type":
                guard !value.isEmpty else { throw fail("empty isc-type") }
                fact = .iscType(value)
            default:
                throw fail("unknown kind \"\(kind)\" (cidr4, cidr6, ptr-suffix, ptr-regex, asn, isc-type)")
            }
            base.rows.append(
                KnowledgeRow(
                    organization: organization, fact: fact, source: fields[3], sourceDate: fields[4],
                    confidence: confidence, status: status, file: file, line: number))
        }
        guard sawHeader else { throw KnowledgeFileError(file: file, line: 0, message: "no header line") }
        return base
    }

    /// This base with `other`'s rows after its own (identical blocks: the earlier row wins).
    public func merged(with other: KnowledgeBase) -> KnowledgeBase {
        KnowledgeBase(rows: rows + other.rows)
    }
}
