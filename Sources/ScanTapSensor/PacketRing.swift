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

    private let slots: UnsafeMutablePointer<DecodedPacket>
    private let mask = PacketRing.capacity - 1
    /// Next slot the consumer will read; written by the consumer only.
    private let head = Atomic<Int>(0)
    /// One past the last slot the producer has published; written by the producer only.
    private let tail = Atomic<Int>(0)
    private let finished = Atomic<Bool>(false)

    // Producer-side copies, touched by the producer thread only.
    private var writeIndex = 0
    private var knownHead = 0

    init() {
        slots = .allocate(capacity: Self.capacity)
        slots.initialize(repeating: DecodedPacket(), count: Self.capacity)
    }

    deinit {
        slots.deinitialize(count: Self.capacity)
        slots.deallocate()
    }

    // MARK: Producer

    /// The slot to decode the next packet into; waits while the ring is full.
    func nextSlot() -> UnsafeMutablePointer<DecodedPacket> {
        if writeIndex - knownHead == Self.capacity {
            publish()
            while true {
                knownHead = head.load(ordering: .acquiring)
                if writeIndex - knownHead < Self.capacity { break }
                sched_yield()
            }
        }
        return slots + (writeIndex & mask)
    }

    /// Keeps the packet just decoded into `nextSlot()`.
    func commit() {
        writeIndex += 1
        if writeIndex % Self.publishEvery == 0 { publish() }
    }

    /// Makes every committed packet visible to the consumer.
    func publish() { tail.store(writeIndex, ordering: .releasing) }

    /// No more packets will come.
    func finish() {
        publish()
        finished.store(true, ordering: .releasing)
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
            sched_yield()
            available = tail.load(ordering: .acquiring)
        }
        let offset = start & mask
        let count = min(available - start, limit, Self.capacity - offset)
        body(UnsafeBufferPointer(start: slots + offset, count: count))
        head.store(start + count, ordering: .releasing)
        return true
    }
}
