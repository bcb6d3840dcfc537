// swift-tools-version:6.2
//
// ScanTap: a libpcap scan sensor. Libraries named by layer, a thin executable on top.
// The dependency graph runs one way: capture and wire decoding at the bottom, detection over
// decoded packets, reporting over episodes, the sensor wiring it all, the executables last.
import PackageDescription

let package = Package(
    name: "ScanTap",
    products: [
        .executable(name: "scantap", targets: ["scantap"]),
        .library(name: "ScanDetection", targets: ["ScanDetection"]),
        .library(name: "ScannerClassification", targets: ["ScannerClassification"]),
    ],
    targets: [
        // libpcap's headers and library, found through pkg-config. Only PacketCapture imports it.
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // c-ares's headers and library (Debian's libc-ares-dev, 1.18), found through pkg-config.
        // Only ReverseDNS imports it.
        .systemLibrary(
            name: "CAres",
            pkgConfig: "libcares",
            providers: [.apt(["libc-ares-dev"])]
        ),
        // One compiler builtin Swift lacks: cache prefetch, for the table's batched lookups.
        .target(name: "CPrefetch"),
        // Packet decoding: link layer to TCP/UDP/ICMP, pure Swift, no allocation per packet.
        .target(name: "WireFormat"),
        // The one Swift module over libpcap: savefiles, live handles, BPF programs, statistics.
        .target(name: "PacketCapture", dependencies: ["CPcap", "WireFormat"]),
        // The lock-free per-source table, scan detection rules and episodes.
        .target(name: "ScanDetection", dependencies: ["WireFormat", "CPrefetch"]),
        // Research-scanner knowledge and the verdict on an episode; no capture dependency, so any
        // sensor can call it.
        .target(name: "ScannerClassification", dependencies: ["ScanDetection", "WireFormat"]),
        // The one Swift module over c-ares: asynchronous, cached, rate-limited reverse DNS with
        // forward confirmation, yielding the classifier's ConfirmedPTR.
        .target(name: "ReverseDNS", dependencies: ["CAres", "WireFormat", "ScannerClassification"]),
        // Output: JSON lines and the human table.
        .target(name: "ScanReport", dependencies: ["ScanDetection", "WireFormat"]),
        // OpenSSL's libcrypto, found through pkg-config. Only DShieldCrypto imports it.
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // The one Swift module over libcrypto: HMAC-SHA256, SHA-256, base64, random bytes.
        .target(name: "DShieldCrypto", dependencies: ["CLibCrypto"]),
        // DShield records from decoded packets, their two formats, the on-disk spool and the
        // submitter; no capture dependency.
        .target(name: "DShieldReport", dependencies: ["WireFormat", "DShieldCrypto"]),
        // Options, the capture pipeline, signals and privilege dropping: everything `scantap` runs.
        .target(
            name: "ScanTapSensor",
            dependencies: [
                "PacketCapture", "WireFormat", "ScanDetection", "ScanReport", "ScannerClassification", "DShieldReport",
                "ReverseDNS",
            ]
        ),
        .executableTarget(name: "scantap", dependencies: ["ScanTapSensor"]),
        // Frame building for tests and the benchmark's synthetic capture; not part of the sensor.
        .target(name: "_ScanTapTestSupport", dependencies: ["WireFormat", "ReverseDNS"]),
        // Benchmarks and the synthetic capture generator. Run it as
        // `swift build -c release && .build/release/scantap-bench`: it times the scantap built
        // beside it, which `swift run` would not build.
        .executableTarget(
            name: "scantap-bench",
            dependencies: [
                "PacketCapture", "WireFormat", "ScanDetection", "ScanTapSensor", "ScannerClassification",
                "_ScanTapTestSupport",
            ]
        ),

        .testTarget(name: "WireFormatTests", dependencies: ["WireFormat", "_ScanTapTestSupport"]),
        .testTarget(
            name: "PacketCaptureTests", dependencies: ["PacketCapture", "WireFormat", "_ScanTapTestSupport"]),
        .testTarget(name: "ScanDetectionTests", dependencies: ["ScanDetection", "WireFormat", "_ScanTapTestSupport"]),
        .testTarget(
            name: "ScannerClassificationTests",
            dependencies: ["ScannerClassification", "ScanDetection", "WireFormat", "_ScanTapTestSupport"]),
        .testTarget(
            name: "ReverseDNSTests",
            dependencies: ["ReverseDNS", "ScannerClassification", "ScanDetection", "WireFormat", "_ScanTapTestSupport"]),
        .testTarget(name: "ScanReportTests", dependencies: ["ScanReport", "ScanDetection", "WireFormat"]),
        .testTarget(
            name: "DShieldReportTests",
            dependencies: ["DShieldReport", "DShieldCrypto", "WireFormat", "_ScanTapTestSupport"]),
        .testTarget(
            name: "ScanTapSensorTests",
            dependencies: [
                "ScanTapSensor", "ScanDetection", "WireFormat", "PacketCapture", "_ScanTapTestSupport", "ReverseDNS",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Every target: imports stay internal unless marked public, and members are visible only
// through modules imported in the file itself.
for target in package.targets where target.type != .system && target.name != "CPrefetch" {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("MemberImportVisibility"),
            .enableUpcomingFeature("InternalImportsByDefault"),
        ]
}
