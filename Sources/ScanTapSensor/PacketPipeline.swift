import PacketCapture
import ScanDetection
import WireFormat

/// One capture thread's path from frame to detector: decode into a batch, hand full batches to
/// the table, count.
///
/// Each capture thread owns one pipeline, so its counters are plain integers; they are read
/// after the thread has ended.
struct PacketPipeline: ~Copyable {
    /// Packets decoded before the table sees them. The detector overlaps a batch's cache misses
    /// (see `ScanDetector.process(_:onAlert:)`); 32 keeps enough of them in flight to fill the
    /// core's outstanding-miss slots while the batch (about 5 KiB) stays in L1.
    static let batchSize = 32

    let decoder = PacketDecoder()
    let detector: ScanDetector
    var packets = 0
    var decoded = 0
    var malformed = 0
    /// The latest packet time seen by this thread.
    var clock = Timestamp.zero
    private let batch = UnsafeMutableBufferPointer<DecodedPacket>.allocate(capacity: batchSize)
    private var pending = 0

    init(detector: ScanDetector) {
        self.detector = detector
        batch.initialize(repeating: DecodedPacket())
    }

    deinit { batch.deallocate() }

    /// Decodes one frame into the batch; hands the batch to the detector when it is full.
    @inline(__always)
    mutating func consume(_ frame: CapturedFrame, linkType: LinkType, onAlert: (Alert) -> Void) {
        packets &+= 1
        switch decoder.decode(frame.bytes, wireLength: frame.wireLength, linkType: linkType,
            timestamp: frame.timestamp, into: &batch[pending])
        {
        case .decoded:
            decoded &+= 1
            if frame.timestamp > clock { clock = frame.timestamp }
            pending &+= 1
            if pending == Self.batchSize { flush(onAlert: onAlert) }
        case .notIP:
            break
        case .malformed:
            malformed &+= 1
        }
    }

    /// Hands the packets decoded so far to the detector.
    mutating func flush(onAlert: (Alert) -> Void) {
        guard pending > 0 else { return }
        detector.process(UnsafeBufferPointer(rebasing: batch[0..<pending]), onAlert: onAlert)
        pending = 0
    }
}
