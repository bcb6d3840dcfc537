import CPrefetch
import Synchronization
public import WireFormat

#if canImport(Glibc)
    import Glibc
#endif

/// A fixed-capacity table of per-source state that capture threads update concurrently without
/// locks, while a sweeper reads it to open and close episodes.
///
/// ## Layout
/// Two allocations made at start-up and never grown, both cache-line aligned:
/// - the **tags**: one 64-bit word per slot, grouped in buckets of 8 that fill one cache line, so
///   a lookup reads exactly one line whatever the load;
/// - the **slots**: 48 atomic words (384 bytes, 6 cache lines) per source. Line 0 holds everything
///   a probe or an answer counts (state, times, SYN counts, contacts, outcomes, the walk); line 1
///   the contacted-pairs and ports bitmaps; line 2 the hosts and answered-pairs bitmaps (256 bits
///   each, for linear-counting estimates); line 3 what a declaration and the technique votes
///   need, and the stealth, UDP, ACK and Maimon counts; line 4 the exact port sample,
///   fingerprint evidence and the ping and network counts; line 5 the hosts the source sent
///   payload to after probing them, and the pairs its ACK probes went to.
/// A SYN therefore touches four lines (its tag bucket, lines 0, 1 and 2), plus line 4 while its
/// first probes are sampled; other probe kinds add the line their count is on.
///
/// ## Concurrency
/// Every field is an `Atomic<UInt64>`; updates are relaxed loads, `bitwiseOr`/`wrappingAdd` and
/// compare-exchange, never a lock. A free slot's fields are all zero, so a slot is claimed by a
/// single compare-exchange of its tag word (0 → the key's keyed hash, always odd): from that
/// instant every thread that looks the source up finds the same slot and may update it, and the
/// claimant only fills in the address and times and sets the `ready` bit. Whoever frees a slot
/// (the sweeper, or an insertion evicting a stale source) first swaps its tag for `busy` (an even
/// value no key hashes to), zeroes the fields, and only then publishes the new tag or 0 with a
/// releasing store; the sweeper skips slots that are not `ready`.
///
/// A table told it has a single writer (`exclusive`: `read`, where one thread runs the
/// detector and its sweeps) performs the same updates as relaxed loads and stores, without the
/// bus-locked read-modify-write instructions that concurrent writers need; on this path those
/// cost more than everything else a probe does once its lines are in cache.
///
/// What is given up to stay lock-free: an update that races the eviction (or the sweeper's
/// release) of its own source can land in the slot's next occupant — at most the one packet
/// each racing thread is applying — and two threads inserting the same new source while its
/// slot is being scrubbed may give it two slots for a moment. With a single capture thread
/// (every `read`) none of this can happen. Two sources whose 64-bit keyed hashes are equal would
/// share a slot; with a secret per-process key that is a 2⁻⁶³ accident an attacker cannot aim for.
public final class SourceTable: @unchecked Sendable {
    // @unchecked: all shared mutable state is behind `Atomic` words; see "Concurrency" above.

    /// Word offsets inside a slot.
    enum Field {
        // Line 0: counted by probes and answers.
        static let state = 0
        static let firstSeen = 1
        static let lastSeen = 2
        static let stackSYNs = 3
        static let rawSYNs = 4
        /// Distinct first contacts, counted as new pair bits: at most `bitmapBits`.
        static let contacts = 5
        /// Successes in the low 32 bits, failures in the high 32: each counts newly answered
        /// pairs, so neither can exceed `bitmapBits` and the halves never overflow.
        static let outcomes = 6
        static let score = 7
        // Line 1 and line 2: the bitmaps, 4 words (256 bits) each.
        static let pairBitmap = 8
        static let portBitmap = 12
        static let hostBitmap = 16
        static let answeredBitmap = 20
        // Line 3: the declaration and the technique votes.
        static let addressHigh = 24
        static let addressLow = 25
        /// Two 32-bit lanes each (`Lane`), read with `lane(_:_:_:)`: handshakes completed with
        /// a bare ACK (low) and ACK probes (high); half-open resets (low) and Maimon probes (high).
        static let handshakes = 26
        static let halfOpenResets = 27
        static let detectedAfter = 28
        static let declaredAt = 29
        /// FIN, NULL and Xmas probes in three 21-bit lanes (`StealthKind`).
        static let stealthProbes = 30
        static let udpProbes = 31
        // Line 4: the port sample, 16 ports of 16 bits in 4 words, then the tool fingerprint
        // evidence (`ToolFingerprint`): rule counts in 8-bit lanes, and the first examined
        // probe's sequence number and unicornscan key; then the ping count and the networks map.
        static let portSample = 32
        static let toolVotes = 36
        static let toolPrevious = 37
        /// Echo requests (pings).
        static let icmpProbes = 38
        /// A 64-bit map of the networks (IPv4 /16, IPv6 /32) that stack SYNs went to: how widely
        /// a connecting client's targets are spread (`DetectorConfiguration.spreadNetworks`).
        static let networkBitmap = 39
        // Line 5: what the source did after its handshakes, touched only by its data segments.
        /// Hosts (256-bit map) the source sent payload to on a pair it had probed: a scan
        /// followed by logins or exploits (the classifier's "payload after the scan" evidence).
        static let payloadHostBitmap = 40
        /// Pairs (256-bit map) the source sent an ACK or FIN+ACK probe to. Such a probe looks
        /// like the middle of a connection whose start the capture missed, so it becomes a first
        /// contact only when the target answers it with a RST (`ScanDetector.answer`).
        static let ackPairBitmap = 44
    }

    /// The halves of a two-lane word: 32 bits each, far more than any count they hold.
    enum Lane: UInt64 {
        case low = 0
        case high = 32
    }

    /// 64-bit words per slot.
    public static let wordsPerSlot = 48
    /// Bytes of state per tracked source: its slot and its tag.
    public static let bytesPerSource = wordsPerSlot * 8 + 8
    /// Slots a source may occupy: one bucket of tags, one cache line. scanlogd caps its chains at
    /// 16; eight keeps every lookup to one line, and the keyed hash means an attacker cannot aim
    /// sources at one bucket.
    public static let bucketSlots = 8
    /// Bits in each distinct-count bitmap. Linear counting with 256 bits errs by about 4.5 % up
    /// to 200 values and 7 % at 500 (detection.md §8), is exact in practice at decision
    /// thresholds, and lets two bitmaps share a cache line, so a probe touches two lines of
    /// bitmaps instead of three. Past about 1,000 values the estimate loses precision; a full map
    /// reports its ceiling, m·ln m = 1,420.
    public static let bitmapBits = 256
    static let bitmapWords = bitmapBits / 64
    static let bitmapShift: UInt64 = 64 - 8  // the top 8 bits of a mixed hash index 256 bits

    /// Tag of a slot being scrubbed. Tags are odd, so no key can match it.
    static let busy: UInt64 = 2

    /// State-word bits.
    enum State {
        static let ready: UInt64 = 1
        static let declared: UInt64 = 2
        static let bySequentialTest: UInt64 = 4
        static let byUnansweredCount: UInt64 = 8
        static let byFingerprint: UInt64 = 16
        /// Ports sampled so far, in bits 8…12 of the state word: the state's line is already in
        /// cache when a probe samples.
        static let sampleCountShift: UInt64 = 8
        static let sampleCountMask: UInt64 = 0x1F << 8
        /// Probes went to home hosts / to outside hosts (with `--home-net`).
        static let targetsInside: UInt64 = 1 << 16
        static let targetsOutside: UInt64 = 1 << 17
        /// The source port of the source's first ACK or Maimon probe, plus one (0: none yet), in
        /// bits 32…48: a scan sends them all from one port, connections each from their own.
        static let ackPortShift: UInt64 = 32
        static let ackPortMask: UInt64 = 0x1_FFFF << 32
        /// A 15-bit hash of the source's latest SYN (destination, ports, sequence number), in
        /// bits 49…63, nonzero: the next SYN with the same hash is its retransmission.
        static let lastSYNShift: UInt64 = 49
        static let lastSYNMask: UInt64 = 0x7FFF << 49
    }

    public let capacity: Int
    /// Whether one thread alone updates the table (see "Concurrency").
    public let exclusive: Bool
    /// Mask that turns a hash into the first slot of its bucket.
    let bucketMask: Int
    let tags: UnsafeMutablePointer<Atomic<UInt64>>
    let words: UnsafeMutablePointer<Atomic<UInt64>>
    /// The table's secrets, drawn per process: the slot hash's key, so chosen addresses cannot
    /// collide, and the bitmap mixer's keys, so a scanner cannot choose ports or hosts that pile
    /// onto one bit and stay under a threshold (detection.md §8).
    struct Keys {
        var pair, port, host: UInt64
        var slot = SipHash13.random()

        static func random() -> Keys {
            Keys(pair: .random(in: .min ... .max), port: .random(in: .min ... .max), host: .random(in: .min ... .max))
        }
    }
    let sipHash: SipHash13
    let pairKey: UInt64
    let portKey: UInt64
    let hostKey: UInt64

    let insertionCount = Atomic<Int>(0)
    let evictionCount = Atomic<Int>(0)
    let untrackedCount = Atomic<Int>(0)

    /// - Parameters:
    ///   - maxSources: rounded up to a power of two (at least one bucket).
    ///   - exclusive: true when a single thread will ever update the table.
    public convenience init(maxSources: Int, exclusive: Bool = false) {
        self.init(maxSources: maxSources, exclusive: exclusive, keys: .random())
    }

    /// Tests pass fixed keys so that exact counts do not depend on chance bitmap collisions.
    init(maxSources: Int, exclusive: Bool = false, keys: Keys) {
        self.exclusive = exclusive
        sipHash = keys.slot
        pairKey = keys.pair
        portKey = keys.port
        hostKey = keys.host
        var capacity = Self.bucketSlots
        while capacity < maxSources { capacity <<= 1 }
        self.capacity = capacity
        self.bucketMask = (capacity - 1) & ~(Self.bucketSlots - 1)
        tags = Self.allocateZeroed(capacity)
        words = Self.allocateZeroed(capacity * Self.wordsPerSlot)
    }

    /// Page-aligned atomic words, all zero, from an anonymous mapping (zero-filled by the
    /// kernel, so every word already holds `Atomic(0)`'s bit pattern). The mapping asks for
    /// transparent huge pages: the table is read at random, and with 4 KiB pages nearly every
    /// lookup would also miss the TLB.
    private static func allocateZeroed(_ count: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        let bytes = count * 8
        guard let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            raw != MAP_FAILED
        else {
            fatalError("cannot map \(bytes) bytes for the source table: \(String(cString: strerror(errno)))")
        }
        _ = madvise(raw, bytes, MADV_HUGEPAGE)  // advice only: without it the table still works
        return raw.bindMemory(to: Atomic<UInt64>.self, capacity: count)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(tags), capacity * 8)
        munmap(UnsafeMutableRawPointer(words), capacity * Self.wordsPerSlot * 8)
    }

    /// Sources ever inserted.
    public var insertions: Int { insertionCount.load(ordering: .relaxed) }
    /// Idle sources evicted to make room for new ones.
    public var evictions: Int { evictionCount.load(ordering: .relaxed) }
    /// Packets whose new source found its probe window full of declared scanners and was not
    /// tracked.
    public var untracked: Int { untrackedCount.load(ordering: .relaxed) }
    /// Bytes of state allocated at start-up.
    public var memoryBytes: Int { capacity * Self.bytesPerSource }

    @inline(__always)
    func word(_ slot: Int, _ field: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        // Safe: every slot index comes from `& bucketMask` plus less than a bucket (< capacity),
        // and `field` < wordsPerSlot.
        words + (slot &* Self.wordsPerSlot &+ field)
    }

    @inline(__always)
    func tagWord(_ slot: Int) -> UnsafeMutablePointer<Atomic<UInt64>> { tags + slot }

    /// The slot's tag: odd for a source, 0 when free, `busy` while being scrubbed.
    @inline(__always)
    func tag(at slot: Int) -> UInt64 { tagWord(slot).pointee.load(ordering: .relaxed) }

    @inline(__always)
    func load(_ slot: Int, _ field: Int) -> UInt64 { word(slot, field).pointee.load(ordering: .relaxed) }

    /// Adds to a counter and returns the new value.
    @inline(__always) @discardableResult
    func add(_ slot: Int, _ field: Int, _ value: UInt64 = 1) -> UInt64 {
        addReturningOld(word(slot, field), value) &+ value
    }

    /// Adds one to a lane of a two-lane word; returns the lane's new value.
    @inline(__always) @discardableResult
    func addToLane(_ slot: Int, _ field: Int, _ lane: Lane) -> UInt64 {
        (addReturningOld(word(slot, field), 1 << lane.rawValue) >> lane.rawValue & 0xFFFF_FFFF) &+ 1
    }

    @inline(__always)
    func lane(_ slot: Int, _ field: Int, _ lane: Lane) -> Int {
        Int(load(slot, field) >> lane.rawValue & 0xFFFF_FFFF)
    }

    // The three read-modify-writes every update is made of: atomic for concurrent writers,
    // a relaxed load and store for an exclusive one.

    @inline(__always)
    private func addReturningOld(_ w: UnsafeMutablePointer<Atomic<UInt64>>, _ value: UInt64) -> UInt64 {
        if exclusive {
            let old = w.pointee.load(ordering: .relaxed)
            w.pointee.store(old &+ value, ordering: .relaxed)
            return old
        }
        return w.pointee.wrappingAdd(value, ordering: .relaxed).oldValue
    }

    @inline(__always)
    private func orReturningOld(_ w: UnsafeMutablePointer<Atomic<UInt64>>, _ bits: UInt64) -> UInt64 {
        if exclusive {
            let old = w.pointee.load(ordering: .relaxed)
            w.pointee.store(old | bits, ordering: .relaxed)
            return old
        }
        return w.pointee.bitwiseOr(bits, ordering: .relaxed).oldValue
    }

    /// Replaces `expected` by `desired`; on failure returns the value found. May fail spuriously
    /// when shared (callers loop).
    @inline(__always)
    private func replace(_ w: UnsafeMutablePointer<Atomic<UInt64>>, _ expected: UInt64, _ desired: UInt64)
        -> (exchanged: Bool, found: UInt64)
    {
        if exclusive {
            let found = w.pointee.load(ordering: .relaxed)
            guard found == expected else { return (false, found) }
            w.pointee.store(desired, ordering: .relaxed)
            return (true, found)
        }
        let (exchanged, original) = w.pointee.weakCompareExchange(
            expected: expected, desired: desired, ordering: .relaxed)
        return (exchanged, original)
    }

    @inline(__always)
    func store(_ slot: Int, _ field: Int, _ value: UInt64) {
        word(slot, field).pointee.store(value, ordering: .relaxed)
    }

    // MARK: Keys

    /// The keyed 64-bit hash of a source key, always odd (0 marks a free slot, `busy` is even):
    /// SipHash-1-3 under a random per-process key, so chosen addresses cannot be made to collide.
    @inline(__always)
    func tag(of key: IPAddress) -> UInt64 { sipHash.hash(key.high, key.low) | 1 }

    // MARK: Lookup and insertion

    /// The slot holding `key`, or nil if it is not tracked.
    public func find(_ key: IPAddress) -> Int? { find(tag: tag(of: key)) }

    /// The slot whose tag is `tag`, or nil.
    func find(tag: UInt64) -> Int? {
        let bucket = Int(truncatingIfNeeded: tag >> 1) & bucketMask
        for slot in bucket..<(bucket &+ Self.bucketSlots) {
            // Acquiring: a matching tag must come with the fields its publisher wrote.
            if tagWord(slot).pointee.load(ordering: .acquiring) == tag { return slot }
        }
        return nil
    }

    /// The slot holding `key`, inserting it (evicting the stalest undeclared source of its
    /// bucket if the bucket is full) when absent. Nil when every slot of the bucket holds a
    /// declared scanner: those are kept until their episode is reported.
    ///
    /// - Parameters:
    ///   - key: the table key (the source, or its IPv6 prefix).
    ///   - address: the address stored and reported for a new entry.
    ///   - now: packet time, stored as first and last seen.
    public func findOrInsert(_ key: IPAddress, address: IPAddress, now: Int64) -> Int? {
        findOrInsert(tag: tag(of: key), address: address, now: now)
    }

    /// `findOrInsert` with the key's tag already computed.
    func findOrInsert(tag: UInt64, address: IPAddress, now: Int64) -> Int? {
        let bucket = Int(truncatingIfNeeded: tag >> 1) & bucketMask
        // Each lost race means another source took a free slot, so the bucket fills within
        // `bucketSlots` rounds: the loop is bounded.
        for _ in 0..<Self.bucketSlots {
            var empty = -1
            for slot in bucket..<(bucket &+ Self.bucketSlots) {
                let current = tagWord(slot).pointee.load(ordering: .acquiring)
                if current == tag { return slot }
                if current == 0 && empty < 0 { empty = slot }
            }
            guard empty >= 0 else { break }
            // A free slot's fields are already zero: claiming it is this one exchange.
            let (won, found) = tagWord(empty).pointee.compareExchange(
                expected: 0, desired: tag, ordering: .acquiringAndReleasing)
            if won {
                publish(empty, address: address, now: now)
                return empty
            }
            // Another thread claimed it first; if for the same source, share its slot, else
            // look again: other slots may still be free.
            if found == tag { return empty }
        }
        // The bucket is full: the victim is the stalest source not declared a scanner. Only
        // here are the other sources' slots read.
        var victim = -1
        var victimTag: UInt64 = 0
        var victimLastSeen = Int64.max
        for slot in bucket..<(bucket &+ Self.bucketSlots) {
            let current = tagWord(slot).pointee.load(ordering: .relaxed)
            guard current & 1 == 1, load(slot, Field.state) & State.declared == 0 else { continue }
            let lastSeen = Int64(bitPattern: load(slot, Field.lastSeen))
            if lastSeen < victimLastSeen {
                victim = slot
                victimTag = current
                victimLastSeen = lastSeen
            }
        }
        if victim >= 0 && scrub(victim, tag: victimTag) {
            // Releasing: a thread that finds the new tag also sees the zeroed fields.
            tagWord(victim).pointee.store(tag, ordering: .releasing)
            evictionCount.wrappingAdd(1, ordering: .relaxed)
            publish(victim, address: address, now: now)
            return victim
        }
        untrackedCount.wrappingAdd(1, ordering: .relaxed)
        return nil
    }

    /// Fills in a newly claimed slot and marks it ready for the sweeper.
    private func publish(_ slot: Int, address: IPAddress, now: Int64) {
        store(slot, Field.addressHigh, address.high)
        store(slot, Field.addressLow, address.low)
        store(slot, Field.firstSeen, UInt64(bitPattern: now))
        touch(slot, now: now)
        // Releasing: whoever sees `ready` also sees the address and times above. An OR, not a
        // store, so a declaration another thread already made is kept.
        word(slot, Field.state).pointee.bitwiseOr(State.ready, ordering: .releasing)
        insertionCount.wrappingAdd(1, ordering: .relaxed)
    }

    /// Takes a slot away from `tag` and zeroes its fields, leaving the tag `busy`; false if the
    /// slot no longer holds `tag`.
    private func scrub(_ slot: Int, tag: UInt64) -> Bool {
        guard
            tagWord(slot).pointee.compareExchange(
                expected: tag, desired: Self.busy, ordering: .acquiringAndReleasing
            ).exchanged
        else { return false }
        for field in 0..<Self.wordsPerSlot { store(slot, field, 0) }
        return true
    }

    /// Frees a slot if it still holds `tag`. The sweeper calls this after reporting or expiring.
    func release(_ slot: Int, tag: UInt64) {
        guard scrub(slot, tag: tag) else { return }
        tagWord(slot).pointee.store(0, ordering: .releasing)
    }

    // MARK: Per-source updates

    /// Advances last-seen to `now` unless it is already later (packets from several threads
    /// arrive slightly out of order).
    @inline(__always)
    func touch(_ slot: Int, now: Int64) {
        let w = word(slot, Field.lastSeen)
        var seen = Int64(bitPattern: w.pointee.load(ordering: .relaxed))
        while seen < now {
            let (done, found) = replace(w, UInt64(bitPattern: seen), UInt64(bitPattern: now))
            if done { return }
            seen = Int64(bitPattern: found)
        }
    }

    /// Starts fetching the bucket `tag` falls in.
    @inline(__always)
    func prefetchBucket(of tag: UInt64) {
        CPrefetch_forWrite(tagWord(Int(truncatingIfNeeded: tag >> 1) & bucketMask))
    }

    /// Starts fetching the line holding `field` of `slot`.
    @inline(__always)
    func prefetch(_ slot: Int, _ field: Int) { CPrefetch_forWrite(word(slot, field)) }

    /// Sets bit `index` of the bitmap at `field`; true if it was clear.
    @inline(__always)
    func insertBit(_ slot: Int, _ field: Int, _ index: Int) -> Bool {
        let w = word(slot, field &+ (index >> 6))
        let bit: UInt64 = 1 << UInt64(index & 63)
        // Read first: most packets repeat a known value, and a plain load costs no bus lock.
        if w.pointee.load(ordering: .relaxed) & bit != 0 { return false }
        return orReturningOld(w, bit) & bit == 0
    }

    @inline(__always)
    func testBit(_ slot: Int, _ field: Int, _ index: Int) -> Bool {
        load(slot, field &+ (index >> 6)) & (1 << UInt64(index & 63)) != 0
    }

    /// The bitmap bit for a value under one of the table's secret keys.
    @inline(__always)
    static func bitIndex(_ value: UInt64, key: UInt64) -> Int {
        Int(truncatingIfNeeded: mix(value ^ key) >> bitmapShift)
    }

    /// murmur3's 64-bit finaliser: every input bit reaches every output bit.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }

    @inline(__always)
    static func fold(_ address: IPAddress) -> UInt64 {
        address.high ^ (address.low << 17 | address.low >> 47) ^ address.low
    }

    @inline(__always)
    func pairIndex(host: IPAddress, port: UInt16) -> Int {
        Self.bitIndex(Self.fold(host) ^ (UInt64(port) << 48 | UInt64(port)), key: pairKey)
    }

    @inline(__always)
    func portIndex(_ port: UInt16) -> Int { Self.bitIndex(UInt64(port), key: portKey) }

    @inline(__always)
    func hostIndex(_ host: IPAddress) -> Int { Self.bitIndex(Self.fold(host), key: hostKey) }

    /// Sets state bits (direction marks) that are not set yet.
    func markState(_ slot: Int, _ bits: UInt64) {
        let w = word(slot, Field.state)
        if w.pointee.load(ordering: .relaxed) & bits != bits { _ = orReturningOld(w, bits) }
    }

    /// Marks the network `host` belongs to (IPv4 /16, IPv6 /32) in the source's network map.
    func markNetwork(_ slot: Int, of host: IPAddress) {
        let network = host.isIPv4 ? UInt64(host.ipv4Value >> 16) : host.high >> 32
        let bit = Self.bitIndex(network, key: hostKey ^ 0x6E65_7477_6F72_6B73) & 63
        let w = word(slot, Field.networkBitmap)
        if w.pointee.load(ordering: .relaxed) & (1 << UInt64(bit)) == 0 { _ = orReturningOld(w, 1 << UInt64(bit)) }
    }

    /// Distinct networks in the network map, by linear counting over its 64 bits.
    func networks(_ slot: Int) -> Int {
        let zeros = 64 - load(slot, Field.networkBitmap).nonzeroBitCount
        return Int((64 * Self.naturalLog(64 / Double(max(zeros, 1)))).rounded())
    }

    /// Appends a port to the exact sample if there is room.
    func samplePort(_ slot: Int, _ port: UInt16) {
        let state = word(slot, Field.state)
        // Read first: once the sample is full, no atomic read-modify-write is spent. Racing
        // threads can push the count a little past the sample size; 5 bits leave room.
        guard
            (state.pointee.load(ordering: .relaxed) & State.sampleCountMask) >> State.sampleCountShift
                < DetectorConfiguration.portSampleSize
        else { return }
        let old = addReturningOld(state, 1 << State.sampleCountShift)
        let index = Int((old & State.sampleCountMask) >> State.sampleCountShift)
        guard index < DetectorConfiguration.portSampleSize else { return }
        let shift = UInt64(index & 3) * 16
        _ = orReturningOld(word(slot, Field.portSample + index / 4), UInt64(port) << shift)
    }

    /// Records `packet`'s hash as the source's latest SYN; true if the previous SYN had the
    /// same hash (a retransmission, or a copy: the caller checks the gap).
    func repeatsLatestSYN(_ slot: Int, _ packet: DecodedPacket) -> Bool {
        let key =
            Self.fold(packet.destination) ^ (UInt64(packet.sourcePort) << 48 | UInt64(packet.destinationPort) << 32)
            ^ UInt64(packet.sequenceNumber)
        let mark = (Self.mix(key ^ pairKey) >> 49 | 1) << State.lastSYNShift  // 15 bits, odd
        let w = word(slot, Field.state)
        var state = w.pointee.load(ordering: .relaxed)
        while state & State.lastSYNMask != mark {
            let (done, found) = replace(w, state, state & ~State.lastSYNMask | mark)
            if done { return false }
            state = found
        }
        return true
    }

    /// Whether an ACK or Maimon probe from `port` comes from the port of the source's first one
    /// (recording it if this is the first).
    func isACKProbePort(_ slot: Int, _ port: UInt16) -> Bool {
        let w = word(slot, Field.state)
        let mark = (UInt64(port) + 1) << State.ackPortShift
        var state = w.pointee.load(ordering: .relaxed)
        while state & State.ackPortMask == 0 {
            let (done, found) = replace(w, state, state | mark)
            if done { return true }
            state = found
        }
        return state & State.ackPortMask == mark
    }

    /// Counts a stealth probe; returns the new count of its kind. A lane stops at 2²⁰ − 1 rather
    /// than spill into its neighbour (a million probes of one kind decide the technique anyway).
    func countStealthProbe(_ slot: Int, _ kind: StealthKind) -> UInt64 {
        let w = word(slot, Field.stealthProbes)
        let shift = UInt64(kind.rawValue) * 21
        let current = (w.pointee.load(ordering: .relaxed) >> shift) & StealthKind.laneMask
        guard current < StealthKind.laneMask >> 1 else { return current }
        return ((addReturningOld(w, 1 << shift) >> shift) & StealthKind.laneMask) &+ 1
    }

    /// The source's stealth probes by kind.
    func stealthProbes(_ slot: Int) -> (fin: Int, null: Int, xmas: Int) {
        let w = load(slot, Field.stealthProbes)
        func lane(_ kind: StealthKind) -> Int { Int((w >> (UInt64(kind.rawValue) * 21)) & StealthKind.laneMask) }
        return (lane(.fin), lane(.null), lane(.xmas))
    }

    /// Records the fingerprint evidence of one of the source's first probes.
    func recordFingerprint(_ slot: Int, _ packet: DecodedPacket) {
        let votes = word(slot, Field.toolVotes)
        let firstWord = word(slot, Field.toolPrevious)
        // Each kind of probe samples its own first ones, so the sum is capped here too: the
        // lanes are 8 bits wide (threads racing past the cap add at most one each).
        guard votes.pointee.load(ordering: .relaxed) & 0xFF < ToolFingerprint.sampleSize else { return }
        let current = ToolFingerprint.Reference(packet)
        let previous = ToolFingerprint.Reference(word: firstWord.pointee.load(ordering: .relaxed))
        firstWord.pointee.store(current.word, ordering: .relaxed)
        let marks = ToolFingerprint.marks(of: packet, previous: previous?.kind == current.kind ? previous : nil)
        _ = addReturningOld(votes, ToolFingerprint.laneIncrements(marks))
    }

    /// The fingerprint evidence gathered so far.
    func toolEvidence(_ slot: Int) -> ToolFingerprint.Evidence {
        ToolFingerprint.evidence(fromLanes: load(slot, Field.toolVotes))
    }

    /// Moves the sequential-test walk one step, clamped to [−floor, +∞); returns the new value.
    func step(_ slot: Int, by delta: Int64, floor: Int64) -> Int64 {
        let w = word(slot, Field.score)
        var current = Int64(bitPattern: w.pointee.load(ordering: .relaxed))
        while true {
            let next = max(current &+ delta, -floor)
            if next == current { return current }
            let (done, found) = replace(w, UInt64(bitPattern: current), UInt64(bitPattern: next))
            if done { return next }
            current = Int64(bitPattern: found)
        }
    }

    /// Marks the source declared; true for exactly one caller per episode.
    func declare(_ slot: Int, path: UInt64, detectedAfter: Int, at now: Int64) -> Bool {
        let w = word(slot, Field.state)
        var state = w.pointee.load(ordering: .relaxed)
        while state & State.ready != 0 && state & State.declared == 0 {
            let (done, found) = replace(w, state, state | State.declared | path)
            if done {
                store(slot, Field.detectedAfter, UInt64(detectedAfter))
                store(slot, Field.declaredAt, UInt64(bitPattern: now))
                return true
            }
            state = found
        }
        return false
    }

    // MARK: Reading

    /// Bits set in a bitmap.
    func ones(_ slot: Int, _ field: Int) -> Int {
        var ones = 0
        for i in 0..<Self.bitmapWords { ones += load(slot, field + i).nonzeroBitCount }
        return ones
    }

    /// Linear-counting estimate of distinct values in a bitmap: m·ln(m/zeros). A full bitmap
    /// returns m·ln(m), the largest value the map can vouch for.
    func estimate(_ slot: Int, _ field: Int) -> Int {
        let ones = ones(slot, field)
        let m = Double(Self.bitmapBits)
        let zeros = Double(max(Self.bitmapBits - ones, 1))
        return Int((m * Self.naturalLog(m / zeros)).rounded())
    }

    /// ln(x) for x ≥ 1 without Foundation: argument halving then the atanh series, exact to
    /// double precision in a few dozen operations (used only when an episode is reported).
    static func naturalLog(_ x: Double) -> Double {
        var y = x
        var halvings = 0.0
        while y > 2 {
            y /= 2
            halvings += 1
        }
        let z = (y - 1) / (y + 1)
        let z2 = z * z
        var term = z
        var sum = 0.0
        var k = 1.0
        while k < 60 {
            sum += term / k
            term *= z2
            k += 2
        }
        return 2 * sum + halvings * 0.693_147_180_559_945_3
    }

    /// A consistent-enough copy of one source's state, or nil if the slot is not in use.
    public func snapshot(_ slot: Int) -> SourceSnapshot? {
        let tag = tagWord(slot).pointee.load(ordering: .acquiring)
        let state = word(slot, Field.state).pointee.load(ordering: .acquiring)
        guard state & State.ready != 0, tag & 1 == 1 else { return nil }
        let stealth = stealthProbes(slot)
        var ports: [UInt16] = []
        let sampled = min(
            Int((state & State.sampleCountMask) >> State.sampleCountShift), DetectorConfiguration.portSampleSize)
        for i in 0..<sampled {
            ports.append(UInt16(truncatingIfNeeded: load(slot, Field.portSample + i / 4) >> (UInt64(i & 3) * 16)))
        }
        return SourceSnapshot(
            slot: slot, tag: tag,
            address: IPAddress(high: load(slot, Field.addressHigh), low: load(slot, Field.addressLow)),
            declared: state & State.declared != 0,
            targetsInside: state & State.targetsInside != 0,
            targetsOutside: state & State.targetsOutside != 0,
            decidedBy: state & State.bySequentialTest != 0
                ? .sequentialTest
                : state & State.byFingerprint != 0 ? .toolFingerprint : .unansweredContacts,
            firstSeen: Timestamp(nanoseconds: Int64(bitPattern: load(slot, Field.firstSeen))),
            lastSeen: Timestamp(nanoseconds: Int64(bitPattern: load(slot, Field.lastSeen))),
            declaredAt: Timestamp(nanoseconds: Int64(bitPattern: load(slot, Field.declaredAt))),
            probes: Int(
                load(slot, Field.stackSYNs) &+ load(slot, Field.rawSYNs) &+ load(slot, Field.udpProbes)
                    &+ load(slot, Field.icmpProbes)) + stealth.fin + stealth.null + stealth.xmas
                + lane(slot, Field.handshakes, .high) + lane(slot, Field.halfOpenResets, .high),
            contacts: Int(load(slot, Field.contacts)),
            successes: Int(load(slot, Field.outcomes) & 0xFFFF_FFFF),
            failures: Int(load(slot, Field.outcomes) >> 32),
            handshakes: lane(slot, Field.handshakes, .low),
            halfOpenResets: lane(slot, Field.halfOpenResets, .low),
            stackSYNs: Int(load(slot, Field.stackSYNs)),
            rawSYNs: Int(load(slot, Field.rawSYNs)),
            finProbes: stealth.fin, nullProbes: stealth.null, xmasProbes: stealth.xmas,
            ackProbes: lane(slot, Field.handshakes, .high), maimonProbes: lane(slot, Field.halfOpenResets, .high),
            udpProbes: Int(load(slot, Field.udpProbes)),
            icmpProbes: Int(load(slot, Field.icmpProbes)),
            detectedAfter: Int(load(slot, Field.detectedAfter)),
            distinctPorts: estimate(slot, Field.portBitmap),
            distinctTargets: estimate(slot, Field.hostBitmap),
            portSample: ports,
            toolEvidence: toolEvidence(slot),
            payloadHosts: estimate(slot, Field.payloadHostBitmap))
    }
}

/// The kinds of stealth probe: segments without SYN, RST or ACK, which no real connection sends.
enum StealthKind: UInt8 {
    /// FIN, possibly with PSH or URG but not both (nmap -sF).
    case fin
    /// No flags, or only PSH/URG without FIN (nmap -sN).
    case null
    /// FIN+PSH+URG (nmap -sX).
    case xmas

    static let laneMask: UInt64 = (1 << 21) - 1

    init(_ flags: TCPFlags) {
        if flags.isSuperset(of: [.fin, .psh, .urg]) {
            self = .xmas
        } else if flags.contains(.fin) {
            self = .fin
        } else {
            self = .null
        }
    }
}

/// A copy of one source's counters, taken by the sweeper or a test.
public struct SourceSnapshot: Sendable {
    public let slot: Int
    let tag: UInt64
    public let address: IPAddress
    public let declared: Bool
    /// Whether probes went to home hosts, and to outside hosts (with `--home-net`).
    public let targetsInside: Bool
    public let targetsOutside: Bool
    public let decidedBy: DecisionPath
    public let firstSeen: Timestamp
    public let lastSeen: Timestamp
    public let declaredAt: Timestamp
    /// Probes of every kind, retransmissions included.
    public let probes: Int
    /// Distinct (host, port) pairs first contacted, counted exactly as new bitmap bits.
    public let contacts: Int
    public let successes: Int
    public let failures: Int
    /// Handshakes the source completed with a bare ACK (connect scans).
    public let handshakes: Int
    /// Half-open connections the source tore down with a RST without ACK (SYN scans).
    public let halfOpenResets: Int
    /// SYNs carrying an operating system's options (SACK-permitted, timestamps or window scale).
    public let stackSYNs: Int
    /// SYNs with no options or MSS only: crafted by a raw-packet scanner.
    public let rawSYNs: Int
    /// Stealth probes: FIN without ACK, no flags at all, FIN+PSH+URG.
    public let finProbes: Int
    public let nullProbes: Int
    public let xmasProbes: Int
    /// ACK and FIN+ACK segments without payload or options on pairs the source never opened.
    public let ackProbes: Int
    public let maimonProbes: Int
    /// UDP datagrams that answered nothing of the receiver's.
    public let udpProbes: Int
    /// Echo requests.
    public let icmpProbes: Int
    public let detectedAfter: Int
    public let distinctPorts: Int
    public let distinctTargets: Int
    public let portSample: [UInt16]
    public let toolEvidence: ToolFingerprint.Evidence
    /// Distinct hosts the source sent payload to on pairs it had probed (an estimate).
    public let payloadHosts: Int
}
