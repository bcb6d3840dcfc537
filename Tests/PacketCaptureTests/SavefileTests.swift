import Foundation
import PacketCapture
import Testing
import WireFormat
import _ScanTapTestSupport

private let builder = FrameBuilder()
private let a = IPAddress("198.18.0.3")!
private let b = IPAddress("198.18.0.10")!

/// A temporary file path removed when the test ends.
final class TemporaryFile {
    let path: String
    init(_ name: String) {
        path = NSTemporaryDirectory() + "scantap-\(UUID().uuidString)-\(name)"
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private func frames(_ count: Int) -> [[UInt8]] {
    (0..<count).map {
        builder.frame(from: a, to: b, .tcp(sourcePort: 40000, destinationPort: UInt16($0 + 1), flags: .syn))
    }
}

private func readAll(_ path: String) throws -> [(Timestamp, [UInt8], Int)] {
    let handle = try CaptureHandle.openSavefile(path)
    var out: [(Timestamp, [UInt8], Int)] = []
    _ = try handle.run { out.append(($0.timestamp, Array($0.bytes), $0.wireLength)) }
    return out
}

/// Classic pcap bytes written by hand, to cover the byte orders and precisions libpcap's own
/// writer does not produce on this machine.
private func classicPcap(bigEndian: Bool, nanoseconds: Bool, linkType: UInt32, records: [(Int64, [UInt8])]) -> Data {
    var data = Data()
    func u32(_ v: UInt32) {
        data.append(contentsOf: withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian, Array.init))
    }
    func u16(_ v: UInt16) {
        data.append(contentsOf: withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian, Array.init))
    }
    u32(nanoseconds ? 0xA1B2_3C4D : 0xA1B2_C3D4)
    u16(2)
    u16(4)
    u32(0)
    u32(0)
    u32(65535)
    u32(linkType)
    for (ns, frame) in records {
        u32(UInt32(ns / 1_000_000_000))
        u32(UInt32(nanoseconds ? ns % 1_000_000_000 : ns % 1_000_000_000 / 1000))
        u32(UInt32(frame.count))
        u32(UInt32(frame.count))
        data.append(contentsOf: frame)
    }
    return data
}

/// A minimal pcapng file: section header, one Ethernet interface (microsecond resolution),
/// enhanced packet blocks.
private func pcapng(records: [(Int64, [UInt8])]) -> Data {
    var data = Data()
    func u32(_ v: UInt32) { data.append(contentsOf: withUnsafeBytes(of: v.littleEndian, Array.init)) }
    func u16(_ v: UInt16) { data.append(contentsOf: withUnsafeBytes(of: v.littleEndian, Array.init)) }
    u32(0x0A0D_0D0A)
    u32(28)
    u32(0x1A2B_3C4D)
    u16(1)
    u16(0)
    u32(0xFFFF_FFFF)
    u32(0xFFFF_FFFF)
    u32(28)
    u32(1)
    u32(20)
    u16(1)
    u16(0)
    u32(65535)
    u32(20)
    for (ns, frame) in records {
        let padded = (frame.count + 3) / 4 * 4
        let micros = UInt64(ns / 1000)
        u32(6)
        u32(UInt32(32 + padded))
        u32(0)
        u32(UInt32(micros >> 32))
        u32(UInt32(micros & 0xFFFF_FFFF))
        u32(UInt32(frame.count))
        u32(UInt32(frame.count))
        data.append(contentsOf: frame + [UInt8](repeating: 0, count: padded - frame.count))
        u32(UInt32(32 + padded))
    }
    return data
}

@Suite struct SavefileTests {
    @Test func framesWrittenByLibpcapReadBackExactlyWithNanosecondTimes() throws {
        let file = TemporaryFile("roundtrip.pcap")
        let written = frames(5)
        do {
            let writer = try SavefileWriter(path: file.path, dataLinkType: 1)
            for (i, f) in written.enumerated() {
                writer.write(f, timestamp: Timestamp(nanoseconds: 1_700_000_000_123_456_789 + Int64(i)))
            }
        }
        let read = try readAll(file.path)
        #expect(read.map(\.1) == written)
        #expect(read.map(\.0.nanoseconds) == (0..<5).map { 1_700_000_000_123_456_789 + Int64($0) })
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func bothByteOrdersAndBothPrecisionsAreRead(bigEndian: Bool, nanoseconds: Bool) throws {
        let file = TemporaryFile("order.pcap")
        let ns: Int64 = 1_700_000_000_123_456_789
        try classicPcap(bigEndian: bigEndian, nanoseconds: nanoseconds, linkType: 1, records: [(ns, frames(1)[0])])
            .write(to: URL(fileURLWithPath: file.path))
        let read = try readAll(file.path)
        #expect(read.count == 1 && read[0].1 == frames(1)[0])
        #expect(read[0].0.nanoseconds == (nanoseconds ? ns : ns / 1000 * 1000))
    }

    @Test func pcapngFilesAreRead() throws {
        let file = TemporaryFile("capture.pcapng")
        try pcapng(records: [(1_700_000_000_000_001_000, frames(1)[0]), (1_700_000_000_000_002_000, frames(2)[1])])
            .write(to: URL(fileURLWithPath: file.path))
        let read = try readAll(file.path)
        #expect(read.map(\.1) == [frames(1)[0], frames(2)[1]])
        #expect(read[1].0.nanoseconds == 1_700_000_000_000_002_000)
    }

    @Test func aMissingFileIsAnOpenErrorNamingTheFile() {
        #expect {
            _ = try CaptureHandle.openSavefile("/nonexistent/scan.pcap")
        } throws: { error in
            let e = error as? CaptureError
            return e?.kind == .open && e?.description.contains("/nonexistent/scan.pcap") == true
                && e?.description.contains("No such file") == true
        }
    }

    @Test func aFileThatIsNotACaptureIsRefused() throws {
        let file = TemporaryFile("text.pcap")
        try Data("hello, this is not a capture file\n".utf8).write(to: URL(fileURLWithPath: file.path))
        #expect {
            _ = try CaptureHandle.openSavefile(file.path)
        } throws: { ($0 as? CaptureError)?.kind == .open }
    }

    @Test func aTruncatedCaptureDeliversEveryWholePacketThenFails() throws {
        let file = TemporaryFile("truncated.pcap")
        var data = classicPcap(
            bigEndian: false, nanoseconds: false, linkType: 1,
            records: frames(10).enumerated().map { (Int64($0.offset) * 1000, $0.element) })
        data.removeLast(7)
        try data.write(to: URL(fileURLWithPath: file.path))
        let handle = try CaptureHandle.openSavefile(file.path)
        var delivered = 0
        #expect {
            _ = try handle.run { _ in delivered += 1 }
        } throws: { error in
            let e = error as? CaptureError
            return e?.kind == .read && e?.message.contains("truncated") == true
        }
        #expect(delivered == 9)
    }

    @Test func anUnsupportedLinkTypeIsRefusedByName() throws {
        let file = TemporaryFile("wifi.pcap")
        try classicPcap(bigEndian: false, nanoseconds: false, linkType: 105, records: []).write(
            to: URL(fileURLWithPath: file.path))
        let handle = try CaptureHandle.openSavefile(file.path)
        #expect {
            _ = try handle.decodableLinkType()
        } throws: { error in
            let e = error as? CaptureError
            return e?.kind == .unsupportedLinkType && e?.message.contains("IEEE802_11") == true
        }
    }

    @Test func anInvalidFilterIsASyntaxError() throws {
        let handle = try #require(CaptureHandle.openDead(dataLinkType: 1))
        #expect {
            _ = try handle.compile("tcp and and port")
        } throws: { ($0 as? CaptureError)?.kind == .filterSyntax }
    }

    @Test func aFilterInstalledOnASavefileDropsWhatItRejects() throws {
        let file = TemporaryFile("filtered.pcap")
        do {
            let writer = try SavefileWriter(path: file.path, dataLinkType: 1)
            for (i, f) in frames(10).enumerated() { writer.write(f, timestamp: Timestamp(nanoseconds: Int64(i))) }
        }
        let handle = try CaptureHandle.openSavefile(file.path)
        try handle.setFilter(try handle.compile("tcp dst port 3 or tcp dst port 7"))
        var ports: [UInt8] = []
        _ = try handle.run { ports.append($0.bytes[14 + 20 + 3]) }
        #expect(ports == [3, 7])
    }
}
