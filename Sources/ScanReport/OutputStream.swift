#if canImport(Glibc)
    import Glibc
#endif

/// Where a sink's lines go. Bytes, not `String`s: the JSON writer builds each line in a
/// reusable byte buffer, so a run that reports a hundred thousand episodes does not build a
/// hundred thousand strings.
public protocol LineOutput: AnyObject {
    /// Appends bytes; they may stay buffered until `flush`.
    func write(_ bytes: UnsafeRawBufferPointer)
    /// Pushes everything buffered to its destination.
    func flush()
}

extension LineOutput {
    public func write(_ text: String) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }
}

/// Buffered writes to a file descriptor, flushed explicitly or when the buffer fills.
public final class FileOutput: LineOutput {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    /// Why a write failed (a full disk, an I/O error), with the system's message: the first
    /// failure, kept for the caller to report, since every later line is lost with it.
    public private(set) var failure: String?
    /// Flushing at 64 KiB keeps write(2) calls rare without holding lines back for long.
    private static let flushThreshold = 64 * 1024

    /// Standard output.
    public static func standardOutput() -> FileOutput { FileOutput(descriptor: 1) }

    public init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(Self.flushThreshold)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.flushThreshold { flush() }
    }

    /// Writes everything buffered. A closed pipe (`scantap … | head`) ends the process by
    /// SIGPIPE, as for any filter; any other failure is kept in `failure`.
    public func flush() {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes {
                Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                if failure == nil { failure = String(cString: strerror(errno)) }
                break
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}
