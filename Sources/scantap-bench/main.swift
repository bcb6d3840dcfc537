// scantap-bench: reruns the sensor's speed and memory measurements.
//
//   swift build -c release && .build/release/scantap-bench [--packets N] [--sources N] [--max-sources N]
//       [--rounds N] [--capture FILE] [--knowledge FILE] [pipeline|table|classify|resolve]...
//
// `pipeline` and `resolve` run the `scantap` built beside this binary (hence `swift build`, which
// builds both, rather than `swift run`, which builds only this one).
// `pipeline`: generates the synthetic savefile (if FILE does not exist yet; by default
// /tmp/scantap-bench-<packets>p-<sources>s.pcap, so other --packets or --sources get a file of
// their own), then in alternating
// rounds times the libpcap floor (pcap_dispatch with an empty callback), the same walk decoding
// every frame (the work of read's reader thread alone) and `scantap read` on the same file, and
// prints the ratios of their medians and scantap's peak memory.
// `table`: updates per second of the source table from 1 and from 2 threads (SYNs from --sources
// sources).
// `classify`: research-scanner lookups per second on random addresses, and the heap the loaded
// knowledge base takes, with the shipped file alone and with an ISC-feed-sized set of addresses.
// `resolve`: `scantap read` with and without `--resolve` against a DNS server that never answers.
// All but `resolve` run when none is named. Times are medians; ratios come from the same run.
import Dispatch
import PacketCapture
import ScanDetection
import ScannerClassification
import WireFormat

#if canImport(Glibc)
    import Glibc
#endif

#if DEBUG
    print("WARNING: a debug build; measure with `swift build -c release && .build/release/scantap-bench`")
#endif

var capture = SyntheticCapture()
var capturePathGiven: String? = nil
var maxSources = 131_072
var rounds = 5
var knowledgePath: String? = nil
var selected: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    func number() -> Int {
        guard let text = arguments.popFirst(), let n = Int(text), n > 0 else {
            print("scantap-bench: \(argument) needs a positive number")
            exit(2)
        }
        return n
    }
    switch argument {
    case "--packets": capture.packets = number()
    case "--sources": capture.sources = number()
    case "--max-sources": maxSources = number()
    case "--rounds": rounds = number()
    case "--capture": capturePathGiven = arguments.popFirst()
    case "--knowledge": knowledgePath = arguments.popFirst()
    case "pipeline", "table", "classify", "resolve": selected.append(argument)
    default:
        print("scantap-bench: unknown argument \(argument)")
        exit(2)
    }
}
if selected.isEmpty { selected = ["pipeline", "table", "classify"] }
// Named by what is in it, so a run with other --packets or --sources never reuses a stale file.
let capturePath = capturePathGiven ?? "/tmp/scantap-bench-\(capture.packets)p-\(capture.sources)s.pcap"

let clock = ContinuousClock()

func median(_ values: [Duration]) -> Duration { values.sorted()[values.count / 2] }

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// The libpcap floor: every packet of the file delivered by pcap_dispatch to an empty body.
func libpcapFloor(_ path: String) throws -> Int {
    let handle = try CaptureHandle.openSavefile(path)
    var count = 0
    _ = try handle.run { _ in count &+= 1 }
    return count
}

/// The reader thread's own share of `read`: the same walk, each frame decoded (and fragments
/// reassembled) into one scratch packet, on this thread. `read` can go no faster than this
/// however cheap its detector: the ratio of this walk to the floor is the ceiling of read's.
func decodeWalk(_ path: String) throws -> Int {
    let handle = try CaptureHandle.openSavefile(path)
    let linkType = try handle.decodableLinkType()
    let decoder = FragmentReassembler()
    var packet = DecodedPacket()
    var decoded = 0
    _ = try handle.run { frame in
        if case .decoded = decoder.decode(
            frame.bytes, wireLength: frame.wireLength, linkType: linkType,
            timestamp: frame.timestamp, into: &packet)
        {
            decoded &+= 1
        }
    }
    return decoded
}

/// Runs a command with stdout to /dev/null; returns its wall time and peak resident memory (KiB).
func timeCommand(_ argv: [String]) -> (Duration, Int) {
    var pid: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    let cArgs = argv.map { strdup($0) } + [nil]
    defer { cArgs.forEach { free($0) } }
    let start = clock.now
    guard posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ) == 0 else {
        print("scantap-bench: cannot run \(argv[0])")
        exit(1)
    }
    var status: Int32 = 0
    var usage = rusage()
    wait4(pid, &status, 0, &usage)
    let elapsed = clock.now - start
    if status != 0 {
        print("scantap-bench: \(argv.joined(separator: " ")) exited with status \(status)")
        exit(1)
    }
    return (elapsed, usage.ru_maxrss)
}

func executableDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let path = String(decoding: buffer[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
}

/// The `scantap` built beside this binary; exits with a message when there is none.
func scantapBinary() -> String {
    let path = executableDirectory() + "/scantap"
    guard access(path, X_OK) == 0 else {
        print(
            "scantap-bench: no scantap at \(path); build both with `swift build -c release`, then run .build/release/scantap-bench"
        )
        exit(2)
    }
    return path
}

/// The synthetic savefile: made when it does not exist yet; its size is printed either way.
func prepare(_ capture: SyntheticCapture, at path: String) throws {
    if access(path, R_OK) != 0 {
        print("generating \(capture.packets) packets from \(capture.sources) sources into \(path) …")
        try capture.write(to: path)
    }
    var info = stat()
    let size = stat(path, &info) == 0 ? Int(info.st_size) : 0
    print("capture: \(path), \(size) bytes")
}

if selected.contains("pipeline") {
    let scantap = scantapBinary()
    try prepare(capture, at: capturePath)
    let command = [scantap, "read", "--format", "json", "--max-sources", String(maxSources), capturePath]
    // Warm the page cache and both code paths once before timing.
    let packets = try libpcapFloor(capturePath)
    _ = timeCommand(command)
    var floors: [Duration] = []
    var decodes: [Duration] = []
    var reads: [Duration] = []
    var peak = 0
    for _ in 0..<rounds {
        floors.append(try clock.measure { _ = try libpcapFloor(capturePath) })
        decodes.append(try clock.measure { _ = try decodeWalk(capturePath) })
        let (elapsed, memory) = timeCommand(command)
        reads.append(elapsed)
        peak = max(peak, memory)
    }
    let floor = median(floors)
    let decode = median(decodes)
    let read = median(reads)
    print(
        "pipeline: \(packets) packets, \(capture.sources) sources, snaplen \(capture.snapshotLength), --max-sources \(maxSources)"
    )
    print(
        "  libpcap floor (pcap_dispatch, empty callback): \(String(format3(seconds(floor)))) s, \(Int(Double(packets) / seconds(floor) / 1e3)) kpkt/s"
    )
    print(
        "  libpcap + decode, one thread (read's reader):  \(String(format3(seconds(decode)))) s, \(Int(Double(packets) / seconds(decode) / 1e3)) kpkt/s"
    )
    print(
        "  scantap read --format json:                    \(String(format3(seconds(read)))) s, \(Int(Double(packets) / seconds(read) / 1e3)) kpkt/s"
    )
    print("  ratio (scantap / floor throughput):            \(format3(seconds(floor) / seconds(read)))")
    print("  ceiling (decode walk / floor throughput):      \(format3(seconds(floor) / seconds(decode)))")
    print(
        "  scantap peak memory: \(peak / 1024) MiB (table: \(SourceTable(maxSources: maxSources).memoryBytes / 1_048_576) MiB)"
    )
}

if selected.contains("resolve") {
    // `read --resolve` against a DNS server that never answers: a UDP socket bound on loopback
    // and never read. The capture path must not wait for DNS, so the two should run alike.
    let scantap = scantapBinary()
    try prepare(capture, at: capturePath)
    let silent = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(silent, $0, length) == 0 && getsockname(silent, $0, &length) == 0
        }
    }
    let port = UInt16(bigEndian: address.sin_port)
    let plain = [scantap, "read", "--format", "json", "--max-sources", String(maxSources), capturePath]
    let resolving = plain + ["--resolve", "--resolver", "127.0.0.1:\(port)"]
    _ = timeCommand(plain)
    var plainTimes: [Duration] = []
    var resolvingTimes: [Duration] = []
    for _ in 0..<rounds {
        plainTimes.append(timeCommand(plain).0)
        resolvingTimes.append(timeCommand(resolving).0)
    }
    let a = median(plainTimes)
    let b = median(resolvingTimes)
    print(
        "resolve: scantap read on \(capturePath), with and without --resolve against a silent server (127.0.0.1:\(port))"
    )
    print("  read:           \(format3(seconds(a))) s")
    print("  read --resolve: \(format3(seconds(b))) s")
    print("  ratio (with / without, throughput): \(format3(seconds(a) / seconds(b)))")
    close(silent)
}

if selected.contains("table") {
    // Decoded SYNs from many sources, made once; the clock covers only the table updates.
    var random = SplitMix64(seed: 7)
    let updates = 4_000_000
    let sources = capture.sources
    let packets: [DecodedPacket] = (0..<updates).map { _ in
        var p = DecodedPacket()
        let r = random.next()
        p.transport = .tcp
        p.tcpFlags = .syn
        p.source = IPAddress(ipv4: 0x0B00_0000 + UInt32(r % UInt64(sources)))
        p.destination = IPAddress(ipv4: 0xC612_0000 + UInt32((r >> 20) & 0xFFFF))
        p.destinationPort = UInt16(truncatingIfNeeded: r >> 40)
        p.timestamp = Timestamp(nanoseconds: 1_764_000_000_000_000_000)
        return p
    }
    func run(threads: Int, exclusive: Bool = false) -> Duration {
        var configuration = DetectorConfiguration()
        configuration.maxSources = maxSources
        let detector = ScanDetector(configuration: configuration, exclusive: exclusive)
        // Each thread takes every `threads`-th run of 32 packets and hands it over as one batch,
        // as a capture thread does.
        return clock.measure {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var alerts = 0
                packets.withUnsafeBufferPointer { all in
                    var start = t * 32
                    while start < all.count {
                        let run = UnsafeBufferPointer(rebasing: all[start..<min(start + 32, all.count)])
                        detector.process(run) { _ in alerts &+= 1 }
                        start += threads * 32
                    }
                }
                if alerts < 0 { print(alerts) }
            }
        }
    }
    _ = run(threads: 1)
    let one = median((0..<rounds).map { _ in run(threads: 1) })
    let two = median((0..<rounds).map { _ in run(threads: 2) })
    let exclusive = median((0..<rounds).map { _ in run(threads: 1, exclusive: true) })
    print("table: \(updates) SYN updates from \(sources) sources, --max-sources \(maxSources)")
    print("  1 thread:  \(Int(Double(updates) / seconds(one) / 1e3)) k updates/s")
    print(
        "  2 threads: \(Int(Double(updates) / seconds(two) / 1e3)) k updates/s (\(format3(seconds(one) / seconds(two)))x one thread)"
    )
    print("  1 thread, exclusive table (as in read): \(Int(Double(updates) / seconds(exclusive) / 1e3)) k updates/s")
}

if selected.contains("classify") {
    // The shipped knowledge file: given, or `knowledge/` in a directory above the executable
    // (a checkout's .build/release/scantap-bench finds the checkout's).
    var directory = executableDirectory()
    var found = knowledgePath
    for _ in 0..<4 where found == nil {
        directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
        let candidate = directory + "/knowledge/research-scanners.tsv"
        if access(candidate, R_OK) == 0 { found = candidate }
    }
    guard let path = found else {
        print("scantap-bench: no knowledge/research-scanners.tsv found; give --knowledge FILE")
        exit(2)
    }

    /// Resident bytes of this process (/proc/self/statm). Everything the classifier builds is
    /// written while it is built, so growth across a load is the loaded base's footprint, give
    /// or take the allocator's free lists (hence loads are kept alive, never freed in between).
    func residentBytes() -> Int {
        guard let file = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(file) }
        var size = 0
        var resident = 0
        _ = withUnsafeMutablePointer(to: &size) { s in
            withUnsafeMutablePointer(to: &resident) { r in withVaList([s, r]) { vfscanf(file, "%ld %ld", $0) } }
        }
        return resident * sysconf(Int32(_SC_PAGESIZE))
    }

    // Warm the one-time costs (file reading, regex and JSON machinery) on a two-row base so
    // they are not counted as the knowledge base's memory.
    let tiny = try KnowledgeBase.parse(
        "org\tkind\tvalue\tsource\tsource_date\tconfidence\tstatus\n"
            + "A\tptr-regex\t^a\\.example$\ts\td\thigh\tlisted\nA\tcidr4\t192.0.2.0/24\ts\td\thigh\tlisted\n",
        file: "warm-up")
    _ = try Classifier(knowledge: tiny).classify(
        address: IPAddress(ipv4: 0xC000_0201), observed: Observation(),
        ptr: ConfirmedPTR(name: "a.example", forwardConfirmed: true))
    _ = try KnowledgeBase.load(path: path)

    var random = SplitMix64(seed: 11)
    // As many single addresses as the ISC research feed held on 2026-08-18 (12,906), half of
    // them packed into a few hundred /24s as the real feed's are.
    let feedSize = 12_906
    var feedText = ""
    for i in 0..<feedSize {
        let address =
            i % 2 == 0
            ? IPAddress(ipv4: 0x5000_0000 | UInt32(i / 2 % 512) << 8 | UInt32(i / 1024))
            : IPAddress(ipv4: UInt32(truncatingIfNeeded: random.next()))
        feedText += "\(address)\t2026-01-01\t2026-08-18\t\(["shodan", "censys", "newproject"][i % 3])\n"
    }
    // Addresses as a sensor meets them: uniformly random, one in eight IPv6 (from 2000::/3).
    let lookups = 4_000_000
    let addresses: [IPAddress] = (0..<lookups).map { i in
        let r = random.next()
        return i % 8 == 7
            ? IPAddress(high: 0x2000_0000_0000_0000 | r >> 3, low: random.next())
            : IPAddress(ipv4: UInt32(truncatingIfNeeded: r))
    }
    let observed = Observation(tool: "zmap", ports: [22, 80, 443], distinctPorts: 400)
    var loaded: [Classifier] = []

    func measure(_ name: String, feed: () throws -> ISCResearchFeed?) throws {
        let before = residentBytes()
        let classifier = try Classifier(knowledge: try KnowledgeBase.load(path: path), iscFeed: try feed())
        let resident = residentBytes() - before
        loaded.append(classifier)
        var hits = 0
        let time = median(
            (0..<rounds).map { _ in
                hits = 0
                return clock.measure {
                    for address in addresses where classifier.listedOrganization(of: address) != nil { hits &+= 1 }
                }
            })
        // Full verdicts with evidence strings, on addresses that are all listed (the costly case).
        let listed = addresses.filter { classifier.listedOrganization(of: $0) != nil }
        let inside = (0..<200_000).map { listed.isEmpty ? addresses[$0] : listed[$0 % listed.count] }
        var evidence = 0
        let classifyTime = clock.measure {
            for address in inside {
                evidence &+= classifier.classify(address: address, observed: observed).evidence.count
            }
        }
        let (blocks, searchBytes) = classifier.loadedBlocks
        print(
            "  \(name): \(blocks) blocks; resident memory +\(resident / 1024) KiB, of which search arrays \(searchBytes / 1024) KiB"
        )
        print(
            "    lookups:  \(Int(Double(lookups) / seconds(time) / 1e3)) k/s (\(lookups) random addresses, 1 in 8 IPv6; \(hits) listed)"
        )
        print(
            "    classify: \(Int(Double(inside.count) / seconds(classifyTime) / 1e3)) k/s (full verdicts with evidence, listed addresses)"
        )
        if evidence < 0 { print(evidence) }
    }
    print("classify: \(path)")
    try measure("shipped knowledge base") { nil }
    try measure("with \(feedSize) ISC feed addresses") {
        try ISCResearchFeed.parse(feedText, file: "synthetic-isc.tab")
    }
}

func format3(_ x: Double) -> String {
    let scaled = Int((x * 1000).rounded())
    let fraction = String(scaled % 1000)
    return "\(scaled / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}
