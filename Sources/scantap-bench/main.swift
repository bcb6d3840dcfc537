// scantap-bench: reruns the sensor's speed and memory measurements.
//
//   swift run -c release scantap-bench [--packets N] [--sources N] [--max-sources N] [--rounds N]
//                                      [--capture FILE] [pipeline|table]...
//
// `pipeline`: generates the synthetic savefile (if FILE does not exist yet), then in alternating
// rounds times the libpcap floor (pcap_dispatch with an empty callback) and `scantap read` on the
// same file, and prints the ratio of their medians and scantap's peak memory.
// `table`: updates per second of the source table from 1 and from 2 threads.
// Both run when none is named. Times are medians; ratios come from the same run.
import Dispatch
import PacketCapture
import ScanDetection
import WireFormat
#if canImport(Glibc)
import Glibc
#endif

#if DEBUG
print("WARNING: a debug build; measure with `swift run -c release scantap-bench`")
#endif

var capture = SyntheticCapture()
var capturePath = "/tmp/scantap-bench.pcap"
var maxSources = 131_072
var rounds = 5
var selected: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    func number() -> Int {
        guard let text = arguments.popFirst(), let n = Int(text), n > 0 else {
            print("scantap-bench: \(argument) needs a positive number"); exit(2)
        }
        return n
    }
    switch argument {
    case "--packets": capture.packets = number()
    case "--sources": capture.sources = number()
    case "--max-sources": maxSources = number()
    case "--rounds": rounds = number()
    case "--capture": capturePath = arguments.popFirst() ?? capturePath
    case "pipeline", "table": selected.append(argument)
    default: print("scantap-bench: unknown argument \(argument)"); exit(2)
    }
}
if selected.isEmpty { selected = ["pipeline", "table"] }

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
        print("scantap-bench: cannot run \(argv[0])"); exit(1)
    }
    var status: Int32 = 0
    var usage = rusage()
    wait4(pid, &status, 0, &usage)
    let elapsed = clock.now - start
    if status != 0 { print("scantap-bench: \(argv.joined(separator: " ")) exited with status \(status)"); exit(1) }
    return (elapsed, usage.ru_maxrss)
}

func executableDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let path = String(decoding: buffer[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
}

if selected.contains("pipeline") {
    if access(capturePath, R_OK) != 0 {
        print("generating \(capture.packets) packets from \(capture.sources) sources into \(capturePath) …")
        try capture.write(to: capturePath)
    }
    let scantap = executableDirectory() + "/scantap"
    let command = [scantap, "read", "--format", "json", "--max-sources", String(maxSources), capturePath]
    // Warm the page cache and both code paths once before timing.
    let packets = try libpcapFloor(capturePath)
    _ = timeCommand(command)
    var floors: [Duration] = []
    var reads: [Duration] = []
    var peak = 0
    for _ in 0..<rounds {
        floors.append(try clock.measure { _ = try libpcapFloor(capturePath) })
        let (elapsed, memory) = timeCommand(command)
        reads.append(elapsed)
        peak = max(peak, memory)
    }
    let floor = median(floors), read = median(reads)
    print("pipeline: \(packets) packets, \(capture.sources) sources, snaplen \(capture.snapshotLength), --max-sources \(maxSources)")
    print("  libpcap floor (pcap_dispatch, empty callback): \(String(format3(seconds(floor)))) s, \(Int(Double(packets) / seconds(floor) / 1e3)) kpkt/s")
    print("  scantap read --format json:                    \(String(format3(seconds(read)))) s, \(Int(Double(packets) / seconds(read) / 1e3)) kpkt/s")
    print("  ratio (scantap / floor throughput):            \(format3(seconds(floor) / seconds(read)))")
    print("  scantap peak memory: \(peak / 1024) MiB (table: \(SourceTable(maxSources: maxSources).memoryBytes / 1_048_576) MiB)")
}

if selected.contains("table") {
    // Decoded SYNs from many sources, made once; the clock covers only the table updates.
    var random = SplitMix64(seed: 7)
    let updates = 4_000_000
    let sources = Int(getenv("BENCH_SOURCES").map { String(cString: $0) } ?? "") ?? 100_000
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
    print("  2 threads: \(Int(Double(updates) / seconds(two) / 1e3)) k updates/s (\(format3(seconds(one) / seconds(two)))x one thread)")
    print("  1 thread, exclusive table (as in read): \(Int(Double(updates) / seconds(exclusive) / 1e3)) k updates/s")
}

func format3(_ x: Double) -> String {
    let scaled = Int((x * 1000).rounded())
    let fraction = String(scaled % 1000)
    return "\(scaled / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}
