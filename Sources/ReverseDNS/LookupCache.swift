import WireFormat

/// Finished lookups by address, each with an expiry; bounded, oldest out first.
///
/// Not thread-safe: the resolver keeps it inside its lock. Entries leave in the order they were
/// stored, which is close to expiry order since lifetimes come from three fixed tunables; an
/// expired entry found by a lookup goes at once.
struct LookupCache {
    private struct Entry {
        var lookup: ReverseLookup
        var expires: ContinuousClock.Instant
        /// Which store this is, so a stale `order` slot for a re-stored address is skipped.
        var serial: UInt64
    }

    let capacity: Int
    private var entries: [IPAddress: Entry] = [:]
    /// Addresses in store order, with the serial they were stored under; `head` is the oldest
    /// slot not yet looked at. Re-storing an address (a returning source) or an expiry leaves a
    /// stale slot behind, so once the list is twice as long as the entries (or 64) it is
    /// compacted to the live slots: its length stays within twice the capacity.
    private(set) var order: [(key: IPAddress, serial: UInt64)] = []
    private var head = 0
    private var nextSerial: UInt64 = 0

    init(capacity: Int) {
        precondition(capacity > 0, "a lookup cache needs room for at least one address")
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The stored lookup for `key` if it has not expired by `now`.
    mutating func lookup(_ key: IPAddress, now: ContinuousClock.Instant) -> ReverseLookup? {
        guard let entry = entries[key] else { return nil }
        guard entry.expires > now else {
            entries[key] = nil
            return nil
        }
        return entry.lookup
    }

    /// Stores `lookup` for `key` until `now + lifetime`, making room by dropping the oldest
    /// entries.
    mutating func store(_ lookup: ReverseLookup, for key: IPAddress, lifetime: Duration, now: ContinuousClock.Instant) {
        nextSerial &+= 1
        if entries[key] == nil {
            while entries.count >= capacity { evictOldest() }
        }
        entries[key] = Entry(lookup: lookup, expires: now + lifetime, serial: nextSerial)
        order.append((key, nextSerial))
        if order.count > 2 * max(entries.count, 64) {
            order = order[head...].filter { entries[$0.key]?.serial == $0.serial }
            head = 0
        }
    }

    private mutating func evictOldest() {
        while head < order.count {
            let slot = order[head]
            head += 1
            // A slot whose address was stored again later (or already expired and removed)
            // is not that address's entry any more.
            if entries[slot.key]?.serial == slot.serial {
                entries[slot.key] = nil
                return
            }
        }
    }
}
