/// A reverse-DNS name for a source address, with the result of checking it forward.
///
/// Whoever holds an address controls its reverse zone, so a PTR alone proves nothing: anyone
/// can name their host `scan-01.shadowserver.org`. Forward confirmation (the name's A/AAAA
/// records contain the address) shows the owner of the name's zone agrees. The caller does the
/// DNS; this type only carries the outcome.
public struct ConfirmedPTR: Sendable, Equatable {
    /// The PTR name as returned (any case, trailing dot or not).
    public let name: String
    /// Whether the name resolves forward to the source address.
    public let forwardConfirmed: Bool

    public init(name: String, forwardConfirmed: Bool) {
        self.name = name
        self.forwardConfirmed = forwardConfirmed
    }
}

/// Matches PTR names against the knowledge base's suffix and pattern rows; a pure function of
/// the name.
struct PTRMatcher: Sendable {
    struct Rule: Sendable {
        let row: KnowledgeRow
        let suffix: String?
        /// `Regex` is Sendable only when its output is, and `AnyRegexOutput` is not because a
        /// match's captures could hold anything. The regex value itself is immutable and compiles
        /// its program lazily with an atomic publish (as for every Sendable `Regex`); matches stay
        /// local to the calling thread, so sharing the value is safe.
        nonisolated(unsafe) let pattern: Regex<AnyRegexOutput>?

        /// The value as written in the knowledge base, for evidence.
        var text: String { row.fact.patternText }
    }

    let rules: [Rule]

    /// Rules ordered by confidence, then file order, so the first match is the best supported.
    init(rows: [KnowledgeRow]) {
        var rules: [Rule] = []
        for row in rows {
            switch row.fact {
            case .ptrSuffix(let suffix):
                rules.append(Rule(row: row, suffix: suffix, pattern: nil))
            case .ptrPattern(let pattern):
                // Validated when the file was loaded.
                rules.append(Rule(row: row, suffix: nil, pattern: try! Regex(pattern)))
            default:
                continue
            }
        }
        self.rules = rules.enumerated().sorted {
            $0.element.row.confidence != $1.element.row.confidence
                ? $0.element.row.confidence > $1.element.row.confidence : $0.offset < $1.offset
        }.map(\.element)
    }

    /// The best rule matching `name`, or nil. The name is compared lower case and without its
    /// trailing dot; a suffix matches only at a label boundary (".shodan.io" matches
    /// "census1.shodan.io" and "shodan.io", never "notshodan.io").
    func match(_ name: String) -> Rule? {
        let normalized = Self.normalize(name)
        return rules.first { rule in
            if let suffix = rule.suffix {
                return normalized.hasSuffix(suffix) || normalized == suffix.dropFirst()
            }
            return rule.pattern.map { (try? $0.wholeMatch(in: normalized)) != nil } ?? false
        }
    }

    static func normalize(_ name: String) -> String {
        let lower = name.lowercased()
        return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
    }
}

extension KnowledgeFact {
    /// The suffix or pattern of a PTR row, empty for other kinds.
    var patternText: String {
        switch self {
        case .ptrSuffix(let text), .ptrPattern(let text): text
        default: ""
        }
    }
}
