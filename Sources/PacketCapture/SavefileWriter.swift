internal import CPcap
public import WireFormat

/// Writes frames to a pcap savefile through libpcap (`pcap_dump`), in this machine's byte order
/// with nanosecond timestamps. Used for fixtures and the benchmark's synthetic capture.
public final class SavefileWriter {
    private let dead: CaptureHandle
    private let dumper: OpaquePointer

    /// Creates (or truncates) `path`. The corresponding C function is `pcap_dump_open`.
    public init(path: String, dataLinkType: Int32, snapshotLength: Int32 = 65535) throws(CaptureError) {
        guard let dead = CaptureHandle.openDead(dataLinkType: dataLinkType, snapshotLength: snapshotLength) else {
            throw CaptureError(.open, source: path, message: "cannot create a capture handle for DLT \(dataLinkType)")
        }
        guard let dumper = dead.withRawHandle({ pcap_dump_open($0, path) }) else {
            throw CaptureError(.open, source: path, message: dead.lastError)
        }
        self.dead = dead
        self.dumper = dumper
    }

    /// Appends one frame, cut to the snapshot length like a capture would be.
    /// The corresponding C function is `pcap_dump`.
    public func write(_ frame: UnsafeRawBufferPointer, timestamp: Timestamp, snapshotLength: Int = .max) {
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(timestamp.nanoseconds / 1_000_000_000)
        header.ts.tv_usec = Int(timestamp.nanoseconds % 1_000_000_000)
        header.caplen = UInt32(min(frame.count, snapshotLength))
        header.len = UInt32(frame.count)
        guard let base = frame.baseAddress else { return }
        withUnsafePointer(to: &header) { headerPointer in
            pcap_dump(
                UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self),
                headerPointer, base.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Appends one frame held in an array.
    public func write(_ frame: [UInt8], timestamp: Timestamp, snapshotLength: Int = .max) {
        frame.withUnsafeBytes { write($0, timestamp: timestamp, snapshotLength: snapshotLength) }
    }

    /// Flushes and closes the file. The corresponding C function is `pcap_dump_close`.
    deinit { pcap_dump_close(dumper) }
}
