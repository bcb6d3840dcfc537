public import WireFormat

/// Keeps a flood of declarations from becoming a flood of alert lines: a token bucket on packet
/// time. Episodes are still reported in full when they close; only the instant `alert` lines
/// are held back, and what was held back is summarised when the flood ends.
///
/// scanlogd does the same after 5 alerts within 20 s; a sensor on an Internet link sees several
/// scanners a minute from background radiation alone, so the budget here is larger.
public struct AlertRateLimit: Sendable {
    /// Alerts per second allowed on average: a person reads about one a second; a SIEM takes
    /// ten without trouble.
    public var perSecond = 10.0
    /// Alerts allowed at once before the rate applies: a real burst (a scan from a /24 of
    /// decoys) is shown whole.
    public var burst = 100.0

    private var tokens: Double
    private var last: Timestamp? = nil
    /// Alerts held back since the last one let through.
    public private(set) var suppressed = 0
    private var firstSuppressed = Timestamp.zero
    private var lastSuppressed = Timestamp.zero

    public init(perSecond: Double = 10, burst: Double = 100) {
        self.perSecond = perSecond
        self.burst = burst
        tokens = burst
    }

    /// What to do with an alert at `time`.
    public enum Decision: Equatable, Sendable {
        /// Print it.
        case allow
        /// Print first a line saying `count` alerts between `first` and `last` were held back,
        /// then this one.
        case allowAfterSuppression(count: Int, first: Timestamp, last: Timestamp)
        /// Hold it back.
        case suppress
    }

    public mutating func admit(at time: Timestamp) -> Decision {
        if let last, time > last {
            tokens = min(burst, tokens + Double(time.nanoseconds - last.nanoseconds) / 1e9 * perSecond)
        }
        last = max(last ?? time, time)
        guard tokens >= 1 else {
            if suppressed == 0 { firstSuppressed = time }
            suppressed += 1
            lastSuppressed = time
            return .suppress
        }
        tokens -= 1
        guard suppressed > 0 else { return .allow }
        defer { suppressed = 0 }
        return .allowAfterSuppression(count: suppressed, first: firstSuppressed, last: lastSuppressed)
    }

    /// The alerts still held back at the end of the run, if any.
    public mutating func drain() -> (count: Int, first: Timestamp, last: Timestamp)? {
        guard suppressed > 0 else { return nil }
        defer { suppressed = 0 }
        return (suppressed, firstSuppressed, lastSuppressed)
    }
}
