import Foundation
import PacketCapture
import ScanTapSensor
import Testing
import WireFormat
import _ScanTapTestSupport

/// Every filter in `bpf/` compiles for every link type the decoder reads, and keeps and drops
/// what its comments promise, for IPv4 and IPv6, untagged and VLAN-tagged, checked the way the
/// kernel would run it (`pcap_offline_filter`).
@Suite struct BPFFilterFileTests {
    static let directory = Scantap.root + "/bpf"
    static let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        .filter { $0.hasSuffix(".bpf") }.sorted()

    static func filter(_ name: String) throws -> FilterLibrary.Filter {
        try FilterLibrary.filter(for: "\(directory)/\(name).bpf")
    }

    static func program(_ name: String, dataLinkType: Int32) throws -> BPFProgram {
        let handle = try #require(CaptureHandle.openDead(dataLinkType: dataLinkType))
        return try handle.compile(try filter(name).expression(forDataLinkType: dataLinkType))
    }

    @Test func theFolderHoldsTheDocumentedFilters() {
        #expect(Self.files == ["all.bpf", "default.bpf", "syn-only.bpf"])
    }

    @Test(arguments: files, [Int32(1), 12, 113, 276, 0, 108])
    func everyFileCompilesForEveryDecodedLinkType(file: String, dataLinkType: Int32) throws {
        let program = try Self.program(String(file.dropLast(4)), dataLinkType: dataLinkType)
        #expect(program.instructionCount > 0)
    }

    @Test func everyClauseHasAComment() throws {
        for file in Self.files {
            let lines = try String(contentsOfFile: "\(Self.directory)/\(file)", encoding: .utf8)
                .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(
                lines.filter { $0.hasPrefix("#") }.count >= lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }.count
                    / 2,
                "\(file) has clauses without comments")
        }
    }

    // MARK: Keep and drop

    static let a4 = IPAddress("198.18.0.3")!, b4 = IPAddress("198.18.0.10")!
    static let a6 = IPAddress("2001:db8:0:1::3")!, b6 = IPAddress("2001:db8:0:1::10")!

    /// (name, payload, kept by default.bpf, kept by syn-only.bpf); all.bpf keeps every one.
    static let cases: [(String, FrameBuilder.Payload, Bool, Bool)] = [
        ("SYN", .tcp(sourcePort: 40000, destinationPort: 22, flags: .syn), true, true),
        ("SYN/ACK", .tcp(sourcePort: 22, destinationPort: 40000, flags: [.syn, .ack]), true, true),
        ("RST", .tcp(sourcePort: 22, destinationPort: 40000, flags: .rst), true, true),
        ("RST/ACK", .tcp(sourcePort: 22, destinationPort: 40000, flags: [.rst, .ack]), true, true),
        ("FIN probe", .tcp(sourcePort: 40000, destinationPort: 22, flags: .fin), true, false),
        ("NULL probe", .tcp(sourcePort: 40000, destinationPort: 22, flags: []), true, false),
        ("Xmas probe", .tcp(sourcePort: 40000, destinationPort: 22, flags: [.fin, .psh, .urg]), true, false),
        ("pure ACK", .tcp(sourcePort: 40000, destinationPort: 22, flags: .ack), true, false),
        ("FIN/ACK", .tcp(sourcePort: 40000, destinationPort: 22, flags: [.fin, .ack]), true, false),
        ("ACK with data", .tcp(sourcePort: 40000, destinationPort: 22, flags: .ack, data: 100), false, false),
        (
            "PSH/ACK with data", .tcp(sourcePort: 40000, destinationPort: 22, flags: [.psh, .ack], data: 1400), false,
            false
        ),
        ("UDP", .udp(sourcePort: 5353, destinationPort: 161, data: 20), true, false),
        ("ICMP echo", .icmp(type: 8, code: 0), true, false),
    ]

    static let links: [(String, FrameBuilder.Link)] = [
        ("Ethernet", .ethernet()),
        ("802.1Q", .ethernet(vlanTags: [(0x8100, 10)])),
        ("QinQ", .ethernet(vlanTags: [(0x88A8, 100), (0x8100, 10)])),
        ("raw IP", .rawIP),
        ("Linux cooked v2", .linuxCooked2),
    ]

    static func accepts(_ program: BPFProgram, _ frame: [UInt8]) -> Bool {
        frame.withUnsafeBytes { CaptureHandle.filter(program, accepts: $0, wireLength: frame.count) }
    }

    @Test(arguments: 0..<links.count)
    func filtersKeepAndDropWhatTheyPromise(link index: Int) throws {
        let (linkName, link) = Self.links[index]
        let builder = FrameBuilder(link: link)
        let programs = try ["default", "syn-only", "all"].map {
            try Self.program($0, dataLinkType: builder.dataLinkType)
        }
        for (name, payload, keptByDefault, keptBySYNOnly) in Self.cases {
            for (source, destination) in [(Self.a4, Self.b4), (Self.a6, Self.b6)] {
                let frame = builder.frame(from: source, to: destination, payload)
                let family = source.isIPv4 ? "IPv4" : "IPv6"
                #expect(Self.accepts(programs[0], frame) == keptByDefault, "default.bpf, \(linkName) \(family) \(name)")
                #expect(
                    Self.accepts(programs[1], frame) == keptBySYNOnly, "syn-only.bpf, \(linkName) \(family) \(name)")
                #expect(Self.accepts(programs[2], frame), "all.bpf, \(linkName) \(family) \(name)")
            }
        }
    }

    @Test func fragmentsAndIPv6ExtensionHeadersAreNeverLost() throws {
        let program = try Self.program("default", dataLinkType: 1)
        var fragment = FrameBuilder()
        fragment.fragmentOffset = 185
        // A non-first fragment whose bytes would read as an ACK with data.
        #expect(
            Self.accepts(
                program,
                fragment.frame(
                    from: Self.a4, to: Self.b4,
                    .tcp(sourcePort: 1, destinationPort: 2, flags: .ack, data: 100))))
        var hopByHop = FrameBuilder()
        hopByHop.ipv6ExtensionHeaders = [(0, [0, 0, 1, 4, 0, 0, 0, 0])]
        // BPF cannot walk the chain, so even established data behind one is kept for the decoder.
        #expect(
            Self.accepts(
                program,
                hopByHop.frame(
                    from: Self.a6, to: Self.b6,
                    .tcp(sourcePort: 1, destinationPort: 2, flags: .ack, data: 100))))
    }

    @Test func nonIPFramesAreDroppedByEveryFilter() throws {
        var arp = FrameBuilder().frame(from: Self.a4, to: Self.b4, .udp(sourcePort: 1, destinationPort: 2))
        arp[12] = 0x08
        arp[13] = 0x06
        for name in ["default", "syn-only", "all"] {
            #expect(!Self.accepts(try Self.program(name, dataLinkType: 1), arp), "\(name).bpf")
        }
    }
}
