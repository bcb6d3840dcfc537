public import WireFormat

/// Longest-prefix match over a fixed set of address blocks, as sorted disjoint intervals.
///
/// Built once from blocks that nest or are disjoint (any set of CIDR prefixes is), it flattens
/// them into consecutive segments that tile the whole address space: each segment starts at a
/// boundary and carries the value of the most specific block covering it, or none. A lookup is
/// then one binary search for the last segment starting at or before the address.
///
/// Why intervals rather than a binary trie: the table is immutable after loading, so it can be
/// two flat arrays (one key and one `Int32` per boundary: a few KiB for the shipped knowledge
/// base, about 12 bytes per entry for IPv4 feeds) that are `Sendable` without locks and that a
/// search walks in about log2(boundaries) cache-friendly steps, where a trie chases one pointer
/// per prefix bit (up to 32 or 128). Boundaries are exact integers, so the first and last
/// address of every block match and the addresses one outside do not, by construction; and
/// arbitrary start–end ranges (an IP-to-ASN database) fit the same structure.
public struct AddressRangeTable<Value: Sendable>: Sendable {
    /// IPv4 segment starts (host order) and, per segment, an index into `values` or -1.
    @usableFromInline let starts4: [UInt32]
    @usableFromInline let slots4: [Int32]
    @usableFromInline let starts6: [UInt128]
    @usableFromInline let slots6: [Int32]
    @usableFromInline let values: [Value]

    /// Builds the table from prefixes. Where blocks are identical, the earlier one wins, so
    /// callers list entries in order of preference.
    public init(_ entries: [(IPPrefix, Value)]) {
        self.init(
            ranges: entries.map { prefix, value in
                let span = prefix.network.familyBitWidth - prefix.length
                let hostBits = span == 0 ? IPAddress(high: 0, low: 0) : Self.ones(span)
                let last = IPAddress(high: prefix.network.high | hostBits.high, low: prefix.network.low | hostBits.low)
                return (start: prefix.network, end: last, value: value)
            })
    }

    /// Builds the table from inclusive ranges (an IP-to-ASN database's rows). Identical
    /// ranges: the earlier one wins.
    ///
    /// - Precondition: both ends of a range are of one family, `start <= end`, and ranges nest
    ///   or are disjoint (CIDR prefixes always do).
    public init(ranges: [(start: IPAddress, end: IPAddress, value: Value)]) {
        var v4: [Block<UInt32>] = []
        var v6: [Block<UInt128>] = []
        for (index, range) in ranges.enumerated() {
            precondition(range.start.isIPv4 == range.end.isIPv4 && range.start <= range.end, "not an address range")
            if range.start.isIPv4 {
                v4.append(Block(start: range.start.ipv4Value, end: range.end.ipv4Value, slot: Int32(index)))
            } else {
                v6.append(Block(start: Self.key(range.start), end: Self.key(range.end), slot: Int32(index)))
            }
        }
        (starts4, slots4) = Self.flatten(v4)
        (starts6, slots6) = Self.flatten(v6)
        values = ranges.map(\.value)
    }

    /// The lowest `bits` bits set, as an address value.
    private static func ones(_ bits: Int) -> IPAddress {
        IPAddress(
            high: bits <= 64 ? 0 : (bits >= 128 ? ~0 : ~0 >> UInt64(128 - bits)),
            low: bits >= 64 ? ~0 : ~0 >> UInt64(64 - bits))
    }

    @usableFromInline
    static func key(_ address: IPAddress) -> UInt128 { UInt128(address.high) << 64 | UInt128(address.low) }

    /// The value of the most specific block containing `address`, or nil.
    @inlinable
    public func lookup(_ address: IPAddress) -> Value? {
        let slot =
            address.isIPv4
            ? Self.segment(containing: address.ipv4Value, starts: starts4, slots: slots4)
            : Self.segment(containing: Self.key(address), starts: starts6, slots: slots6)
        return slot < 0 ? nil : values[Int(slot)]
    }

    /// Number of blocks loaded.
    public var count: Int { values.count }

    /// Bytes held by the search arrays (keys and slots; values are the caller's).
    public var searchBytes: Int {
        starts4.count * (MemoryLayout<UInt32>.stride + MemoryLayout<Int32>.stride)
            + starts6.count * (MemoryLayout<UInt128>.stride + MemoryLayout<Int32>.stride)
    }

    /// Binary search without early exit: the last start `<= key`. `starts[0]` is always 0, so
    /// there is always one.
    @usableFromInline
    static func segment<Key: FixedWidthInteger>(containing key: Key, starts: [Key], slots: [Int32]) -> Int32 {
        starts.withUnsafeBufferPointer { s in
            var low = 0
            var size = s.count
            while size > 1 {
                let half = size / 2
                // `low + half < low + size <= s.count`: in bounds.
                if s[low + half] <= key { low += half }
                size -= half
            }
            return slots[low]
        }
    }

    struct Block<Key: FixedWidthInteger & UnsignedInteger> {
        var start: Key
        var end: Key
        var slot: Int32
    }

    /// Tiles the key space with segments, each carrying the innermost block covering it.
    ///
    /// Sorting by start and then by size (largest first) makes every block come after the blocks
    /// that contain it, so a stack of open blocks holds exactly the blocks containing the sweep
    /// position, innermost on top.
    static func flatten<Key: FixedWidthInteger & UnsignedInteger>(_ blocks: [Block<Key>]) -> ([Key], [Int32]) {
        let sorted = blocks.sorted {
            if $0.start != $1.start { return $0.start < $1.start }
            if $0.end != $1.end { return $0.end > $1.end }
            return $0.slot < $1.slot
        }
        var starts: [Key] = [0]
        var slots: [Int32] = [-1]
        func emit(from start: Key, _ slot: Int32) {
            if starts.last == start {
                slots[slots.count - 1] = slot
            } else if slots.last != slot {
                starts.append(start)
                slots.append(slot)
            }
        }
        var stack: [Block<Key>] = []
        /// Closes every open block that ends before `position`, resuming its container (or
        /// nothing) just after its end.
        func close(before position: Key?) {
            while let top = stack.last, position.map({ top.end < $0 }) ?? true {
                stack.removeLast()
                guard top.end < Key.max else { continue }
                let resume = top.end + 1
                // A container ending at the same address as `top` closes in the next turn and
                // emits at the same `resume`, replacing this segment.
                emit(from: resume, stack.last?.slot ?? -1)
            }
        }
        for block in sorted {
            close(before: block.start)
            if let top = stack.last {
                precondition(block.end <= top.end, "address blocks overlap without nesting")
                // An identical block listed later loses to the one already open.
                if top.start == block.start && top.end == block.end { continue }
            }
            emit(from: block.start, block.slot)
            stack.append(block)
        }
        close(before: nil)
        return (starts, slots)
    }
}
