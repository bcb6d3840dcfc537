/// A token bucket: `rate` tokens a second, holding at most one second's worth.
///
/// Not thread-safe: only the resolver's loop thread starts lookups.
struct RateLimiter {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant

    init(perSecond rate: Double, now: ContinuousClock.Instant) {
        precondition(rate > 0 && rate.isFinite, "a rate limit must be a positive number of lookups per second")
        self.rate = rate
        // One second's worth, but at least one, or a rate below 1/s could never start anything.
        self.burst = max(1, rate)
        self.tokens = burst
        self.last = now
    }

    /// Takes a token if one is available at `now`.
    mutating func take(now: ContinuousClock.Instant) -> Bool {
        refill(now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// How long from `now` until a token is available (zero if one is).
    mutating func wait(now: ContinuousClock.Instant) -> Duration {
        refill(now)
        return tokens >= 1 ? .zero : .seconds((1 - tokens) / rate)
    }

    private mutating func refill(_ now: ContinuousClock.Instant) {
        guard now > last else { return }
        let elapsed = last.duration(to: now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        tokens = min(burst, tokens + seconds * rate)
        last = now
    }
}
