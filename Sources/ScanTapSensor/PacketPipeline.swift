import PacketCapture
import ScanDetection
import WireFormat

/// One capture thread's path from frame to detector: decode, count, hand to the table.
///
/// Each capture thread owns one pipeline, so its counters are plain integers; they are read
/// after the thread has ended.
struct PacketPipeline {
    let decoder = PacketDecoder()
    let detector: ScanDetector
    var packets = 0
    var decoded = 0
    var malformed = 0
    /// The latest packet time seen by this thread.
    var clock = Timestamp.zero
    private var packet = DecodedPacket()

    init(detector: ScanDetector) { self.detector = detector }

    /// Accounts one frame; returns an alert if it made its source a scanner.
    @inline(__always)
    mutating func consume(_ frame: CapturedFrame, linkType: LinkType) -> Alert? {
        packets &+= 1
        switch decoder.decode(frame.bytes, wireLength: frame.wireLength, linkType: linkType,
            timestamp: frame.timestamp, into: &packet)
        {
        case .decoded:
            decoded &+= 1
            if packet.timestamp > clock { clock = packet.timestamp }
            return detector.process(packet)
        case .notIP:
            return nil
        case .malformed:
            malformed &+= 1
            return nil
        }
    }
}
