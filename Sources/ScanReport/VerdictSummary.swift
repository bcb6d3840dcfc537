public import ScanDetection

/// The operator's question at a glance: how much of the scanning came from research scanners
/// (by organisation), how much from known-malicious sources, how much is unknown.
public struct VerdictSummary: Sendable, Equatable {
    public struct Tally: Sendable, Equatable {
        public var episodes = 0
        public var probes = 0
    }

    public var research = Tally()
    public var malicious = Tally()
    public var unknown = Tally()
    /// Research episodes by organisation.
    public var organizations: [String: Tally] = [:]

    public init() {}

    public mutating func add(_ e: Episode) {
        switch e.classification.verdict {
        case .research:
            research.episodes += 1
            research.probes += e.probes
            let name = e.classification.organization ?? "unnamed"
            organizations[name, default: Tally()].episodes += 1
            organizations[name, default: Tally()].probes += e.probes
        case .malicious:
            malicious.episodes += 1
            malicious.probes += e.probes
        case .unknown:
            unknown.episodes += 1
            unknown.probes += e.probes
        }
    }

    /// Organisations by descending probes, then name.
    public var organizationsByProbes: [(String, Tally)] {
        organizations.sorted {
            $0.value.probes != $1.value.probes ? $0.value.probes > $1.value.probes : $0.key < $1.key
        }
    }
}
