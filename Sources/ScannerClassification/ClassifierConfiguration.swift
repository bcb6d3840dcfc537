/// Every tunable of the classifier, with its default and the reason for it.
public struct ClassifierConfiguration: Sendable {
    /// Organisations whose matches give `unknown` instead of `research` (the organisation is
    /// still named, and the evidence says it was demoted): for operators who do not accept an
    /// organisation's scanning as benign. Names as in the knowledge base's `org` column.
    public var demotedOrganizations: Set<String> = []

    /// Organisations removed from the knowledge base entirely: never attributed.
    public var droppedOrganizations: Set<String> = []

    /// Ports of services that worms and botnets commonly exploit, with the reason each is here.
    /// A scan aimed only at these is malicious evidence (see `exploitedPortScanLimit`).
    public var exploitedPorts: [UInt16: ExploitedService] = ExploitedService.defaults

    /// A scan counts as aimed at exploited services when it touched at most this many distinct
    /// ports and every sampled one is in `exploitedPorts`. Five is the detector's horizontal-scan
    /// limit: a sweep for a few services, as Mirai sweeps 23 and 2323; a scan of hundreds of
    /// ports that happens to include 445 is a survey, not aimed.
    public var exploitedPortScanLimit = 5

    /// Whether a scan aimed at exploited services overrides a research listing. Off: exposure
    /// surveys (Shadowserver, Censys) sweep exactly these ports every day to count vulnerable
    /// hosts, so this behaviour alone does not tell a listed researcher from an attacker; the
    /// evidence still records it. The Mirai fingerprint and the deny list always override.
    public var exploitedPortsOverrideResearch = false

    /// Confidence of a research attribution by the row's confidence: the verdict is only as
    /// sure as the weakest link, which is how well the row is sourced.
    public var researchConfidence: [RowConfidence: Double] = [.high: 0.9, .medium: 0.7, .low: 0.5]

    /// Research attributions to an organisation of unclear identity or ethics are capped here:
    /// the address may well be theirs, but "research" claims more than the sources support.
    public var unclearOrganizationConfidenceCap = 0.5

    /// Added when a forward-confirmed PTR and an address block name the same organisation: two
    /// independent kinds of evidence agree (capped at `maximumConfidence`).
    public var agreementBonus = 0.05

    /// An allow-list entry is the operator's own word.
    public var allowListConfidence = 0.9

    /// A deny-list entry is the operator's own word.
    public var denyListConfidence = 0.9

    /// Mirai's sequence number equal to the target address is a relation no research scanner
    /// sets; the fingerprint itself already needs 90 % of the first probes to agree.
    public var miraiConfidence = 0.95

    /// A narrow scan of exploited services is suggestive, not conclusive: exposure surveys from
    /// unlisted addresses look the same.
    public var exploitedPortsConfidence = 0.6

    /// A scanner that goes back to this many of the hosts it probed with payload (completed
    /// handshakes carrying data) is logging in or exploiting: brute force after the scan.
    /// Research scanners grab a banner from some services, so one or two hosts prove nothing;
    /// five is where a banner survey of a small network would still fall short of it.
    public var payloadHostsAfterScan = 5

    /// Payload to many scanned hosts is strong evidence, though a banner-grabbing survey of a
    /// large network can reach it too.
    public var payloadAfterScanConfidence = 0.8

    /// No verdict is certain: lists go stale and addresses change hands (reference pitfall 5).
    public var maximumConfidence = 0.99

    public init() {}
}

/// A commonly exploited service and why its port is on the list.
public struct ExploitedService: Sendable, Equatable {
    /// Short service name for evidence.
    public let name: String
    /// Why scans for it are suspicious.
    public let reason: String

    public init(name: String, reason: String) {
        self.name = name
        self.reason = reason
    }

    /// The shipped list. Each port is here because a named worm or botnet family spreads
    /// through it, not merely because the service is popular (22 and 80 are not here: far too
    /// many legitimate reasons to touch them).
    public static let defaults: [UInt16: ExploitedService] = [
        23: .init(name: "telnet", reason: "Mirai and its descendants brute-force default IoT credentials over Telnet"),
        2323: .init(name: "telnet-alt", reason: "Mirai's scanner sends about one probe in ten to 2323 instead of 23"),
        445: .init(name: "smb", reason: "EternalBlue (MS17-010): WannaCry and NotPetya spread through SMB"),
        3389: .init(name: "rdp", reason: "RDP credential brute force and BlueKeep (CVE-2019-0708)"),
        5555: .init(name: "adb", reason: "exposed Android Debug Bridge: ADB.Miner worm (2018)"),
        7547: .init(
            name: "tr-069", reason: "CWMP router management: the 2016 Mirai variant behind the Deutsche Telekom outage"),
        37215: .init(name: "huawei-upnp", reason: "Huawei HG532 CVE-2017-17215, exploited by Satori/Okiru"),
        52869: .init(name: "realtek-upnp", reason: "Realtek SDK miniigd CVE-2014-8361, exploited by Satori"),
        2375: .init(name: "docker", reason: "unauthenticated Docker Engine API: cryptojacking worms (Graboid, 2019)"),
        6379: .init(name: "redis", reason: "unauthenticated Redis: cryptomining worms writing cron jobs and SSH keys"),
        8291: .init(
            name: "winbox", reason: "MikroTik Winbox CVE-2018-14847, exploited by Hajime and cryptojacking campaigns"),
    ]
}
