import Foundation
public import ReverseDNS
import WireFormat

#if canImport(Glibc)
    import Glibc
#endif

/// A dnsmasq on 127.0.0.1 serving a small zone of documentation addresses, for the duration of
/// the test process. Nothing leaves the machine: every name asked is answered locally (`--local`
/// makes dnsmasq authoritative for the test domains and it has no upstream server).
public final class LocalDNSServer: Sendable {
    /// The zone, as dnsmasq options. Addresses are from the documentation blocks (RFC 5737,
    /// RFC 3849).
    public static let records =
        [
            // Forward-confirmed: the PTR and the A record agree.
            "--host-record=census1.shodan.io,192.0.2.10",
            "--host-record=census6.shodan.io,2001:db8::10",
            // Spoofed: the address holder's PTR claims a Shodan name whose A record is elsewhere.
            "--ptr-record=66.2.0.192.in-addr.arpa,scan.shodan.io",
            "--host-record=scan.shodan.io,198.51.100.66",
            // Spoofed with a name that does not exist at all.
            "--ptr-record=67.2.0.192.in-addr.arpa,ghost.shodan.io",
            // Spoofed over IPv6: scan.shodan.io has no AAAA record.
            "--ptr-record=6.6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa,scan.shodan.io",
            // Two PTR names, only the second confirms.
            "--ptr-record=11.2.0.192.in-addr.arpa,decoy.shodan.io",
            "--ptr-record=11.2.0.192.in-addr.arpa,census2.shodan.io",
            "--host-record=census2.shodan.io,192.0.2.11",
            "--host-record=decoy.shodan.io,198.51.100.11",
            // A hostile reverse zone: six PTR names, to make the sensor send six forward queries.
        ] + (1...6).map { "--ptr-record=12.2.0.192.in-addr.arpa,decoy\($0).shodan.io" } + [
            // Authoritative for these, so 192.0.2.77 (no PTR) gets NXDOMAIN rather than REFUSED.
            "--local=/shodan.io/", "--local=/2.0.192.in-addr.arpa/", "--local=/8.b.d.0.1.0.0.2.ip6.arpa/",
        ]

    public let server: DNSServer
    private let process: Process

    /// The shared server, or nil when dnsmasq is missing and cannot be installed (the tests
    /// that need it are then skipped).
    public static let shared: LocalDNSServer? = {
        guard let executable = findDNSMasq() else { return nil }
        return try? LocalDNSServer(executable: executable)
    }()

    public static var available: Bool { shared != nil }

    private init(executable: String) throws {
        let port = freeUDPPort()
        process = Process()
        // Through a watcher shell that stops dnsmasq once this test process is gone, however it
        // ends (the test runner's exit runs no handler of ours, and a crash never would). With
        // SIGKILL: dnsmasq inherits the test runner's signal mask, which blocks SIGTERM.
        let watcher = """
            "$0" "$@" & server=$!
            while kill -0 \(getpid()) 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.2; done
            kill -KILL $server 2>/dev/null; wait $server
            """
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments =
            [
                "-c", watcher, executable, "--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null",
                "--pid-file",
                "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--no-poll",
            ] + Self.records
        let log = Pipe()
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // dnsmasq logs "started" once its socket is bound; wait for that line, at most 5 s.
        var text = ""
        let deadline = Date().addingTimeInterval(5)
        let reader = log.fileHandleForReading
        while !text.contains("started"), Date() < deadline, process.isRunning {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard text.contains("started") else {
            // The watcher stops a dnsmasq that is still running when this process exits.
            throw DNSServerError(message: "dnsmasq did not start: \(text)")
        }
        server = DNSServer(address: IPAddress("127.0.0.1")!, port: port)
        // Keep draining its log so a chatty dnsmasq never blocks on a full pipe.
        reader.readabilityHandler = { _ = $0.availableData }
    }
}

public struct DNSServerError: Error {
    public let message: String
}

/// dnsmasq's path; installs it first when running as root without it (dnsmasq-base: the
/// executable without the system service the dnsmasq package would start).
private func findDNSMasq() -> String? {
    let path = "/usr/sbin/dnsmasq"
    if FileManager.default.isExecutableFile(atPath: path) { return path }
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/apt-get") else { return nil }
    let install = Process()
    install.executableURL = URL(fileURLWithPath: "/usr/bin/apt-get")
    install.arguments = ["install", "-y", "-qq", "dnsmasq-base"]
    install.environment = ["DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
    install.standardOutput = FileHandle.nullDevice
    install.standardError = FileHandle.nullDevice
    guard (try? install.run()) != nil else { return nil }
    install.waitUntilExit()
    return FileManager.default.isExecutableFile(atPath: path) ? path : nil
}

/// A UDP port on 127.0.0.1 nobody is using right now: bound to port 0, read back, released.
public func freeUDPPort() -> UInt16 {
    SilentUDPSocket()!.port
}

/// A UDP socket bound on the loopback address that never answers: a DNS server that is down.
public final class SilentUDPSocket: Sendable {
    public let descriptor: Int32
    public let port: UInt16
    public let server: DNSServer

    /// Binds to 127.0.0.1, or ::1 when `ipv6`, on a port the kernel picks; nil when that family
    /// has no loopback address here.
    public init?(ipv6: Bool = false) {
        let descriptor = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
        var storage = sockaddr_storage()
        var length = socklen_t(ipv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        withUnsafeMutableBytes(of: &storage) { raw in
            if ipv6 {
                let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                address.pointee.sin6_family = sa_family_t(AF_INET6)
                address.pointee.sin6_addr = in6addr_loopback
            } else {
                let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                address.pointee.sin_family = sa_family_t(AF_INET)
                address.pointee.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            }
        }
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard named else {
            close(descriptor)
            return nil
        }
        // sin_port and sin6_port sit at the same offset, right after the family.
        port = withUnsafeBytes(of: &storage) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
        server = DNSServer(address: IPAddress(ipv6 ? "::1" : "127.0.0.1")!, port: port)
    }

    /// Whether a datagram (a query) has arrived, without waiting.
    public func receivedDatagram() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 512)
        return recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT)) > 0
    }

    deinit {
        close(descriptor)
    }
}
