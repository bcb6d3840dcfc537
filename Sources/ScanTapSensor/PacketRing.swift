import Synchronization
import WireFormat

#if canImport(Glibc)
    import Glibc
#endif

/// A single-producer, single-consumer ring of decoded packets: how `read` splits the work
/// between two threads. The producer (libpcap and the decoder) fills slots in place; the
/// consumer (the detector) reads them in contiguous runs. No lock: each side owns its index and
/// publishes it with a releasing store, the other side reads it acquiring.
final class PacketRing: @unchecked Sendable {
    // @unchecked: slots in [head, tail) belong to the consumer, the rest to the producer; the
    // indices that hand them over are atomics.

    /// Slots in the ring. 4096 decoded packets (about 600 KiB) absorb the jitter between the two
    /// threads while staying in the L2 cache of the machine this was tuned on.
    static let capacity = 4096
    /// The producer publishes its progress at least this often, so the consumer sees full
    /// batches rather than one packet at a time.
    static let publishEvery = 32
    /// How long a side that finds the ring empty (or full) sleeps before looking again. The
    /// ring holds about 400 µs of work, so 20 µs naps never starve the other side, and
    /// sleeping rather than spinning leaves the CPU to the other thread: on a 2-vCPU machine the
    /// two may share a physical core, and a spinning or `sched_yield`-looping thread slowed the
    /// reader by half.
    static let napMicroseconds: UInt32 = 20

    static func nap() { usleep(napMicroseconds) }

    fileprivate let slots: UnsafeMutablePointer<DecodedPacket>
    fileprivate let mask = PacketRing.capacity - 1
    /// Next slot the consumer will read; written by the consumer only.
    fileprivate let head = Atomic<Int>(0)
    /// One past the last slot the producer has published; written by the producer only.
    fileprivate let tail = Atomic<Int>(0)
    fileprivate let finished = Atomic<Bool>(false)

    init() {
        slots = .allocate(capacity: Self.capacity)
        slots.initialize(repeating: DecodedPacket(), count: Self.capacity)
    }

    deinit {
        slots.deinitialize(count: Self.capacity)
        slots.deallocate()
    }

    // MARK: Producer

    /// The producer's side of the ring, owned by the producer thread. A value of its own, so its
    /// indices are plain fields of a local variable rather than class properties checked for
    /// exclusive access on every packet.
    struct Producer: ~Copyable {
        let ring: PacketRing
        private var writeIndex = 0
        private var knownHead = 0

        init(ring: PacketRing) { self.ring = ring }

        /// The slot to decode the next packet into; waits while the ring is full.
        @inline(__always)
        mutating func nextSlot() -> UnsafeMutablePointer<DecodedPacket> {
            if writeIndex - knownHead == PacketRing.capacity {
                publish()
                while true {
                    knownHead = ring.head.load(ordering: .acquiring)
                    if writeIndex - knownHead < PacketRing.capacity { break }
                    PacketRing.nap()
                }
            }
            return ring.slots + (writeIndex & ring.mask)
        }

        /// Keeps the packet just decoded into `nextSlot()`.
        @inline(__always)
        mutating func commit() {
            writeIndex += 1
            if writeIndex % PacketRing.publishEvery == 0 { publish() }
        }

        /// Makes every committed packet visible to the consumer.
        func publish() { ring.tail.store(writeIndex, ordering: .releasing) }

        /// No more packets will come.
        func finish() {
            publish()
            ring.finished.store(true, ordering: .releasing)
        }
    }

    // MARK: Consumer

    /// Waits for packets and passes the next contiguous run (at most `limit`) to `body`; returns
    /// false once the producer has finished and everything has been consumed.
    func consume(limit: Int, _ body: (UnsafeBufferPointer<DecodedPacket>) -> Void) -> Bool {
        let start = head.load(ordering: .relaxed)
        var available = tail.load(ordering: .acquiring)
        while available == start {
            if finished.load(ordering: .acquiring) {
                available = tail.load(ordering: .acquiring)
                if available == start { return false }
                break
            }
            Self.nap()
            available = tail.load(ordering: .acquiring)
        }
        let offset = start & mask
        let count = min(available - start, limit, Self.capacity - offset)
        body(UnsafeBufferPointer(start: slots + offset, count: count))
        head.store(start + count, ordering: .releasing)
        return true
    }
}
