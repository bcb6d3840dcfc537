#if canImport(Glibc)
import Glibc
#endif

/// Buffered writes to a file descriptor, flushed explicitly or when the buffer fills.
///
/// Alerts flush immediately (an operator is watching); `scan` lines may wait for the next flush.
public final class FileOutput: TextOutputStream {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private static let flushThreshold = 64 * 1024

    /// Standard output.
    public static func standardOutput() -> FileOutput { FileOutput(descriptor: 1) }

    public init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(Self.flushThreshold)
    }

    public func write(_ string: String) {
        buffer.append(contentsOf: string.utf8)
        if buffer.count >= Self.flushThreshold { flush() }
    }

    /// Writes everything buffered. A closed pipe (`scantap … | head`) ends output quietly.
    public func flush() {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes {
                Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                break
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

/// Collects output in memory: for tests.
public final class StringOutput: TextOutputStream {
    public private(set) var text = ""
    public init() {}
    public func write(_ string: String) { text += string }
}
