import ScanReport

/// Collects output in memory, counting flushes: for tests.
final class MemoryOutput: LineOutput {
    private var bytes: [UInt8] = []
    private(set) var flushes = 0
    init() {}
    func write(_ bytes: UnsafeRawBufferPointer) { self.bytes.append(contentsOf: bytes) }
    func flush() { flushes += 1 }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}
