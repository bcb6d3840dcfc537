public import WireFormat

/// Every tunable of scan detection, with its default and the reason for it: the sensor's
/// `params.h`. The README's "Tunables" table mirrors this file.
public struct DetectorConfiguration: Sendable {
    /// Sources tracked at once; rounded up to a power of two. Memory is fixed at start-up:
    /// `SourceTable.bytesPerSource` (392) bytes each, so the default 65,536 costs 24.5 MiB — in
    /// the range of Snort 3's 10 MiB port-scan memcap, but holding distinct-count bitmaps for
    /// every source. Size it at about twice the sources expected at once: a bucket of 8 slots
    /// overflows rarely at half load. A flood of spoofed sources evicts idle entries; it cannot
    /// grow memory.
    public var maxSources = 65_536

    /// A scan episode closes after this long without a probe from its source. Zeek's
    /// simple-scan and old Bro both expire scan state after 15 minutes; nmap's slowest timing
    /// (`-T0`, one probe per 5 minutes) stays inside one episode.
    public var idleGap: Duration = .seconds(15 * 60)

    /// An episode that is still going is closed and reported after this long, so a scanner that
    /// never pauses still produces a `scan` line at least hourly; the next probe starts a new one.
    public var maxEpisodeLength: Duration = .seconds(60 * 60)

    /// How often (in packet time) open episodes are checked for closing. One second keeps
    /// closing times within a second of the rule at the cost of one table pass per second.
    public var sweepInterval: Duration = .seconds(1)

    /// Sequential test, TRW-style (Jung et al. 2004, θ0 = 0.8, θ1 = 0.2, α = β = 0.01): each
    /// failed first contact multiplies the likelihood ratio by (1−θ1)/(1−θ0) = 4 and each success
    /// by θ1/θ0 = 1/4, so the walk moves one step per outcome and a source is a scanner once the
    /// ratio exceeds (1−β)/α = 99, i.e. after 4 net failures (4⁴ = 256 > 99 > 4³).
    public var failureStepsToDeclare = 4

    /// The lowest the walk can go: successes stop earning credit here, so a scanner cannot
    /// bank a few cheap successful connections to hide any number of failures (Mell & Harang
    /// 2013). Four steps is TRW's own benign decision (4 straight successes).
    public var successCreditLimit = 4

    /// A SYN that repeats the source's previous SYN (same destination, ports and sequence
    /// number) at least this long after it is a retransmission: the first attempt got no answer,
    /// a failed first contact even where answers are invisible. The operating systems' first
    /// retransmission comes after 1 s (Linux, RFC 6298) or 3 s (Windows); a span port that
    /// mirrors a packet twice delivers the copy within microseconds.
    public var retransmissionGap: Duration = .milliseconds(500)

    /// Second path, for captures where answers are not visible (one direction of a tap, or the
    /// scanner's side only): distinct first contacts still unanswered. 50 sits between Zeek
    /// simple-scan's 25 and old Bro's 50-port threshold, high enough that a browser opening
    /// connections to dozens of hosts before the first answers arrive is not accused.
    public var unansweredContactsToDeclare = 50

    /// The same path for a vertical scan: this many distinct ports on at most two hosts, none of
    /// them answered. scanlogd declares at 7 privileged ports; a client has no reason to open
    /// eight different ports on one host before any of them answers. Counted as bitmap bits, so
    /// two ports can share one (about one chance in six among ten ports): a scan of ten ports is
    /// still declared.
    public var unansweredPortsToDeclare = 8

    /// A source connecting through its operating system's stack to hosts in at least this many
    /// unrelated networks (IPv4 /16s, IPv6 /32s), or to a new network for more than every second
    /// first contact, is a client reaching peers across the Internet — a peer-to-peer program
    /// bootstrapping, where many attempts fail — not a scan of one network, and is not declared.
    /// Raw-packet scanners (zmap, masscan, nmap -sS) are not affected, nor is anyone scanning
    /// one network; an Internet-wide sweep made with the
    /// operating system's connect() is the price: it goes unreported. Sixteen networks is far
    /// beyond a scan of a site's address space and well inside a P2P bootstrap (81 peers, 25
    /// networks in its first second in the Gnutella capture).
    public var spreadNetworks = 16

    /// Episodes with at most this many distinct ports are horizontal (one or few ports across
    /// hosts), as Zeek simple-scan classifies address scans.
    public var horizontalPortLimit = 5

    /// Exact destination ports kept per source for reports (scanlogd keeps 20).
    public static let portSampleSize = 16

    /// The network the sensor guards (`--home-net`). Episodes then say which way they went: a
    /// scan of the home network from outside, an inside host scanning out (its own kind: not a
    /// scan of the home network), inside to inside, or neither.
    public var homeNetwork: [IPPrefix] = []

    /// Sources never tracked: the operator's own vulnerability scanners (`--ignore`).
    public var ignoredSources: [IPPrefix] = []

    /// IPv6 sources are keyed by this prefix length (`--ipv6-group`); 128 keys each address.
    /// Scanners rotate through addresses of one /64 (Richter et al., IMC 2022): grouping
    /// counts them as one source, at the price of merging unrelated hosts behind one prefix.
    public var ipv6GroupPrefixLength = 128

    public init() {}
}
