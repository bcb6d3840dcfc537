public import WireFormat

/// How a scan probes, as seen on the wire.
public enum ScanTechnique: String, Sendable {
    /// Half-open: SYN, and at most a RST after the target's SYN/ACK (nmap -sS, masscan, zmap).
    case syn
    /// Completed handshakes without payload, through the operating system's stack (nmap -sT).
    case connect
    /// FIN without ACK (nmap -sF).
    case fin
    /// No flags (nmap -sN).
    case null
    /// FIN+PSH+URG (nmap -sX).
    case xmas
    /// ACK without SYN on pairs the source never opened (nmap -sA; -sW sends the same probe).
    case ack
    /// FIN+ACK on pairs the source never opened (nmap -sM).
    case maimon
    /// UDP datagrams, answered by ICMP port unreachable or not at all (nmap -sU, masscan -pU).
    case udp
    /// Echo requests to many hosts: a ping sweep (nmap -sn -PE, fping).
    case icmp
    /// No kind reaches 80 % of the source's probes.
    case mixed
}

/// Which targets a scan covers.
public enum ScanShape: String, Sendable {
    /// One host, many ports.
    case vertical
    /// Many hosts, one or a few ports (at most `DetectorConfiguration.horizontalPortLimit`).
    case horizontal
    /// Many hosts and many ports.
    case block
}

/// Which rule declared a source a scanner.
public enum DecisionPath: String, Sendable {
    /// The sequential test over answered first contacts.
    case sequentialTest = "sequential-test"
    /// The count of distinct first contacts left unanswered (captures without answers).
    case unansweredContacts = "unanswered-contacts"
    /// A raw-packet scanning tool's fingerprint on the source's first probes.
    case toolFingerprint = "tool-fingerprint"
}

/// Which way a scan went relative to the home network (`--home-net`).
public enum ScanDirection: String, Sendable {
    /// From outside toward the home network: a scan of it.
    case inbound
    /// From a home host toward the outside: one of ours scanning out.
    case outbound
    /// Home host to home hosts.
    case `internal`
    /// Neither end in the home network (a span port seeing transit traffic).
    case transit
    /// Toward both home and outside hosts.
    case mixed
}

/// Why an episode was reported when it was.
public enum EpisodeEnd: String, Sendable {
    case idle
    case maximumLength = "max-length"
    case endOfInput = "end-of-input"
}

/// The moment a source is declared a scanner.
public struct Alert: Sendable {
    public let source: IPAddress
    public let technique: ScanTechnique
    /// Distinct (host, port) first contacts seen from the source when it was declared.
    public let detectedAfter: Int
    public let time: Timestamp
    public let path: DecisionPath

    public init(source: IPAddress, technique: ScanTechnique, detectedAfter: Int, time: Timestamp, path: DecisionPath) {
        self.source = source
        self.technique = technique
        self.detectedAfter = detectedAfter
        self.time = time
        self.path = path
    }
}

/// The classifier's answer for an episode.
public enum Verdict: String, Sendable {
    case research, malicious, unknown
}

/// What the shared classifier says about a scanner, with its evidence.
public struct Classification: Sendable {
    public var verdict: Verdict
    /// The organisation behind a research scanner (or a listed range that misbehaves).
    public var organization: String?
    /// Short, specific reasons: which range, PTR, fingerprint or behaviour.
    public var evidence: [String]
    /// Confidence in the verdict, 0…1; nil until a classifier has looked.
    public var confidence: Double?

    public init(verdict: Verdict, organization: String? = nil, evidence: [String] = [], confidence: Double? = nil) {
        self.verdict = verdict
        self.organization = organization
        self.evidence = evidence
        self.confidence = confidence
    }

    /// What every episode carries until a classifier says more.
    public static let unknown = Classification(verdict: .unknown)
}

/// Labels episodes. The shared classifier (a separate module, independent of capture)
/// implements this; the sensor applies it to every episode before the sinks see it.
public protocol EpisodeClassifier: Sendable {
    func classify(_ episode: Episode) -> Classification
}

/// One scanner's activity from its first probe until it went idle, hit the maximum episode
/// length, or the input ended.
public struct Episode: Sendable {
    /// The first probing address (with `--ipv6-group`, the first address of the prefix seen).
    public let source: IPAddress
    public let firstSeen: Timestamp
    public let lastSeen: Timestamp
    public let technique: ScanTechnique
    public let shape: ScanShape
    /// Connection attempts sent, retransmissions included.
    public let probes: Int
    /// Linear-counting estimates.
    public let distinctPorts: Int
    public let distinctTargets: Int
    /// The first destination ports probed, sorted (at most `portSampleSize`).
    public let ports: [UInt16]
    public let detectedAfter: Int
    public let declaredAt: Timestamp
    public let decidedBy: DecisionPath
    /// Answered first contacts: SYN/ACKs and RSTs from the targets.
    public let successes: Int
    public let failures: Int
    public let end: EpisodeEnd
    /// The scanning tool recognised from packet fingerprints (the detection issue fills it).
    public var tool: String? = nil
    public var toolConfidence: Double? = nil
    /// Nil without `--home-net`.
    public var direction: ScanDirection? = nil
    /// Hosts the scanner sent payload to on pairs it had probed: logins or exploits after the
    /// scan (an estimate; 0 when none were seen, or when a filter dropped data segments).
    public var payloadHosts = 0
    public var classification = Classification.unknown

    public init(
        source: IPAddress, firstSeen: Timestamp, lastSeen: Timestamp, technique: ScanTechnique, shape: ScanShape,
        probes: Int, distinctPorts: Int, distinctTargets: Int, ports: [UInt16], detectedAfter: Int,
        declaredAt: Timestamp, decidedBy: DecisionPath, successes: Int, failures: Int, end: EpisodeEnd
    ) {
        self.source = source
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.technique = technique
        self.shape = shape
        self.probes = probes
        self.distinctPorts = distinctPorts
        self.distinctTargets = distinctTargets
        self.ports = ports
        self.detectedAfter = detectedAfter
        self.declaredAt = declaredAt
        self.decidedBy = decidedBy
        self.successes = successes
        self.failures = failures
        self.end = end
    }
}
