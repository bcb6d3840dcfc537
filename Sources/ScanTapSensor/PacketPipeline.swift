import PacketCapture
import ScanDetection
import ScanReport
import WireFormat

/// Decodes frames, reassembles fragmented probes' headers and counts frames: the first step of
/// every capture thread.
///
/// Each capture thread owns one, so its counters are plain integers and its reassembler needs no
/// lock; they are read after the thread has ended.
struct FrameDecoder {
    let reassembler = FragmentReassembler()
    var packets = 0
    var decoded = 0
    var malformed = 0
    /// The latest packet time seen.
    var clock = Timestamp.zero

    /// Adds this thread's counts to the run's.
    func count(into statistics: inout RunStatistics) {
        statistics.packets += packets
        statistics.decoded += decoded
        statistics.malformed += malformed
        statistics.fragmentsReassembled += reassembler.reassembled
        statistics.fragmentOverlaps += reassembler.overlapping
    }

    /// Decodes `frame` into `packet`; true if it is an IP packet the detector should see.
    @inline(__always)
    mutating func decode(_ frame: CapturedFrame, linkType: LinkType, into packet: UnsafeMutablePointer<DecodedPacket>)
        -> Bool
    {
        packets &+= 1
        switch reassembler.decode(
            frame.bytes, wireLength: frame.wireLength, linkType: linkType,
            timestamp: frame.timestamp, into: &packet.pointee)
        {
        case .decoded:
            decoded &+= 1
            if frame.timestamp > clock { clock = frame.timestamp }
            return true
        case .fragment:
            // Held until its datagram's header is complete, or part of one already handed on.
            decoded &+= 1
            if frame.timestamp > clock { clock = frame.timestamp }
            return false
        case .notIP:
            return false
        case .malformed:
            malformed &+= 1
            return false
        }
    }
}

/// A live capture thread's path from frame to detector: decode into a batch, hand full batches
/// to the table and, with DShield, to the shared flow table, each packet decoded once.
struct PacketPipeline: ~Copyable {
    /// Packets decoded before the table sees them. The detector overlaps a batch's cache misses
    /// (see `ScanDetector.process(_:onAlert:)`); 32 keeps enough of them in flight to fill the
    /// core's outstanding-miss slots while the batch (about 5 KiB) stays in L1.
    static let batchSize = 32

    let detector: ScanDetector
    let dshield: LiveDShield?
    var frames = FrameDecoder()
    private let batch = UnsafeMutableBufferPointer<DecodedPacket>.allocate(capacity: batchSize)
    private var pending = 0

    init(detector: ScanDetector, dshield: LiveDShield? = nil) {
        self.detector = detector
        self.dshield = dshield
        batch.initialize(repeating: DecodedPacket())
    }

    deinit { batch.deallocate() }

    /// Decodes one frame into the batch; hands the batch to the detector when it is full.
    /// Returns true when that raised an alert.
    @inline(__always)
    mutating func consume(_ frame: CapturedFrame, linkType: LinkType, onAlert: (Alert) -> Void) -> Bool {
        guard frames.decode(frame, linkType: linkType, into: batch.baseAddress! + pending) else { return false }
        pending &+= 1
        return pending == Self.batchSize ? flush(onAlert: onAlert) : false
    }

    /// Hands the packets decoded so far to the detector, then to the DShield flow table.
    /// Returns true when that raised an alert.
    mutating func flush(onAlert: (Alert) -> Void) -> Bool {
        guard pending > 0 else { return false }
        var alerted = false
        let packets = UnsafeBufferPointer(rebasing: batch[0..<pending])
        detector.process(packets) { alert in
            alerted = true
            onAlert(alert)
        }
        dshield?.process(packets)
        pending = 0
        return alerted
    }
}
