public import ScanDetection
public import WireFormat

/// Counters for the final `stats` line.
public struct RunStatistics: Sendable, Equatable {
    /// Frames libpcap delivered.
    public var packets = 0
    /// Frames decoded as IPv4 or IPv6.
    public var decoded = 0
    /// Frames whose headers were short or inconsistent; counted and skipped.
    public var malformed = 0
    /// Packets the kernel dropped because the sensor fell behind (live capture only).
    public var kernelDrops = 0
    /// Sources entered into the per-source table during the run.
    public var sourcesTracked = 0
    /// Idle sources evicted to make room.
    public var evictions = 0
    /// Scan episodes reported.
    public var episodes = 0
    /// Probes whose new source found every slot of its bucket held by a declared scanner, and
    /// was not tracked: non-zero means `--max-sources` is too small for the scanning seen.
    public var untracked = 0
    /// Fragmented datagrams whose transport header was reassembled (nmap -f and its kind).
    public var fragmentsReassembled = 0
    /// Fragments that overlapped bytes already held: the mark of an IDS-evasion attempt (the
    /// first copy is kept).
    public var fragmentOverlaps = 0

    public init() {}
}

/// Where detection results go: standard output as JSON lines or a table. Calls arrive one at a
/// time, in packet-time order for alerts.
public protocol EventSink: AnyObject {
    /// A source was just declared a scanner.
    func alert(_ alert: Alert)
    /// `count` alerts between `first` and `last` were held back by the alert rate limit (their
    /// episodes are still reported when they close).
    func alertsSuppressed(count: Int, first: Timestamp, last: Timestamp)
    /// An episode closed.
    func episode(_ episode: Episode)
    /// Pushes out what is buffered. The sensor calls it after each batch of packets that raised
    /// an alert (a batch is at most 32 packets, or whatever one read from the kernel returned),
    /// so an alert reaches its reader within microseconds of its packet being processed.
    func flush()
    /// The run ended; the last thing written, and flushed.
    func finish(_ statistics: RunStatistics)
}
