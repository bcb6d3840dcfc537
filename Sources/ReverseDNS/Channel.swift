internal import CAres
import Glibc
import WireFormat

/// c-ares initialises its globals once per process; a Swift global is initialised exactly once,
/// thread-safely, which `ares_library_init` itself is not in 1.18. Never cleaned up: the library
/// lives as long as the process. The corresponding C function is `ares_library_init`.
private let libraryStatus: Int32 = ares_library_init(ARES_LIB_INIT_ALL)

/// A DNS record type the resolver asks for (RFC 1035 §3.2.2, RFC 3596 §2.1).
struct RecordType: RawRepresentable, Equatable, CustomStringConvertible {
    let rawValue: Int32
    static let a = RecordType(rawValue: 1)
    static let ptr = RecordType(rawValue: 12)
    static let aaaa = RecordType(rawValue: 28)

    /// The records holding an address of the family of `address`.
    static func addressRecords(for address: IPAddress) -> RecordType { address.isIPv4 ? .a : .aaaa }

    var description: String {
        switch self {
        case .a: "A"
        case .ptr: "PTR"
        case .aaaa: "AAAA"
        default: "TYPE\(rawValue)"
        }
    }
}

/// The Internet class, the only one asked (RFC 1035 §3.2.4).
private let internetClass: Int32 = 1

/// One c-ares channel: its sockets, its queries, its timers. Every c-ares call in the package
/// is in this file, one call site each.
///
/// Not thread-safe, as a c-ares 1.18 channel is not: the resolver's loop thread is its only
/// user once the resolver has started.
final class Channel {
    private let channel: OpaquePointer

    /// A query's outcome: the raw answer, or c-ares's status as an error.
    typealias Completion = (Result<[UInt8], ResolverError>) -> Void

    /// Opens a channel with the configuration's timeout, attempts and server.
    ///
    /// - Throws: `ResolverError` with c-ares's message when the library, the channel or the
    ///   server list cannot be set up.
    init(_ configuration: ResolverConfiguration) throws(ResolverError) {
        try ResolverError.check(libraryStatus, "ares_library_init")
        var options = ares_options()
        let milliseconds =
            configuration.queryTimeout.components.seconds * 1000
            + configuration.queryTimeout.components.attoseconds / 1_000_000_000_000_000
        precondition(milliseconds > 0 && milliseconds <= Int64(Int32.max), "a query timeout must be 1 ms or more")
        precondition(configuration.attempts > 0, "a query must be sent at least once")
        options.timeout = Int32(milliseconds)
        options.tries = Int32(configuration.attempts)
        var channel: OpaquePointer?
        try ResolverError.check(
            ares_init_options(&channel, &options, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES), "ares_init_options")
        // ares_init_options sets the channel whenever it succeeds.
        self.channel = channel!
        if let server = configuration.server {
            // The channel is released by deinit even when this throws.
            try ResolverError.check(
                ares_set_servers_ports_csv(self.channel, server.description), "ares_set_servers_ports_csv \(server)")
        }
    }

    /// Cancels every query still open (their completions see `ARES_EDESTRUCTION`) and closes
    /// the sockets. The corresponding C function is `ares_destroy`.
    deinit {
        ares_destroy(channel)
    }

    /// Sends a query for `name`'s records of `type`; `completion` runs on the thread that
    /// calls `process`, or in `deinit`. The corresponding C function is `ares_query`.
    func query(_ name: String, type: RecordType, completion: @escaping Completion) {
        let box = Unmanaged.passRetained(CompletionBox(completion, query: "\(type) \(name)")).toOpaque()
        ares_query(
            channel, name, internetClass, type.rawValue,
            { argument, status, _, answer, length in
                // c-ares calls back exactly once per query, so the box is released exactly once.
                let box = Unmanaged<CompletionBox>.fromOpaque(argument!).takeRetainedValue()
                guard status == ARES_SUCCESS, let answer else {
                    box.completion(.failure(ResolverError(box.query, status: status)))
                    return
                }
                box.completion(.success(Array(UnsafeBufferPointer(start: answer, count: Int(length)))))
            }, box)
    }

    /// A socket c-ares wants watched, and for what.
    struct Socket {
        let descriptor: Int32
        let readable: Bool
        let writable: Bool
    }

    /// The sockets c-ares is waiting on. The corresponding C function is `ares_getsock`.
    func sockets() -> [Socket] {
        let maximum = Int(ARES_GETSOCK_MAXNUM)
        var descriptors = [ares_socket_t](repeating: ARES_SOCKET_BAD, count: maximum)
        let bits = ares_getsock(channel, &descriptors, Int32(maximum))
        var sockets: [Socket] = []
        for index in 0..<maximum {
            let readable = bits & (1 << index) != 0
            let writable = bits & (1 << (index + maximum)) != 0
            guard readable || writable else { continue }
            sockets.append(Socket(descriptor: descriptors[index], readable: readable, writable: writable))
        }
        return sockets
    }

    /// How long until c-ares must look at its timers, or nil when no query is open. The
    /// corresponding C function is `ares_timeout`.
    func timeout() -> Duration? {
        var storage = timeval()
        guard let next = ares_timeout(channel, nil, &storage) else { return nil }
        return .seconds(Int64(next.pointee.tv_sec)) + .microseconds(Int64(next.pointee.tv_usec))
    }

    /// Reads and writes what is ready on `readable` and `writable` (nil for none), then handles
    /// expired timers, running the completions of finished queries. The corresponding C
    /// function is `ares_process_fd`.
    func process(readable: Int32?, writable: Int32?) {
        ares_process_fd(channel, readable ?? ARES_SOCKET_BAD, writable ?? ARES_SOCKET_BAD)
    }

    /// The PTR names in `answer`, a reply to a PTR query for `address`, in answer order,
    /// duplicates removed.
    ///
    /// - Throws: `ResolverError` (`ARES_ENODATA` when the reply holds no PTR record,
    ///   `ARES_EBADRESP` when it is malformed). The corresponding C function is
    ///   `ares_parse_ptr_reply`.
    static func ptrNames(in answer: [UInt8], for address: IPAddress) throws(ResolverError) -> [String] {
        let bytes = address.networkBytes
        var host: UnsafeMutablePointer<hostent>?
        try ResolverError.check(
            ares_parse_ptr_reply(
                answer, Int32(answer.count), bytes, Int32(bytes.count), address.isIPv4 ? AF_INET : AF_INET6, &host),
            "PTR \(address.reverseDNSName)")
        defer { ares_free_hostent(host) }
        guard let entry = host?.pointee else { return [] }
        // c-ares 1.18 puts the last PTR name in h_name and every PTR name in h_aliases.
        var names: [String] = []
        var alias = entry.h_aliases
        while let name = alias?.pointee {
            names.append(String(cString: name))
            alias = alias?.successor()
        }
        if let name = entry.h_name { names.append(String(cString: name)) }
        var seen: Set<String> = []
        return names.filter { seen.insert($0.lowercased()).inserted }
    }

    /// The addresses in `answer`, a reply to an A (`.a`) or AAAA (`.aaaa`) query, CNAMEs
    /// followed; at most 32, which no honest name exceeds.
    ///
    /// - Throws: `ResolverError` (`ARES_ENODATA` when the reply holds no address). The
    ///   corresponding C functions are `ares_parse_a_reply` and `ares_parse_aaaa_reply`.
    static func addresses(in answer: [UInt8], type: RecordType, name: String) throws(ResolverError) -> [IPAddress] {
        var count: Int32 = 32
        if type == .a {
            var records = [ares_addrttl](repeating: ares_addrttl(), count: Int(count))
            try ResolverError.check(
                ares_parse_a_reply(answer, Int32(answer.count), nil, &records, &count), "A \(name)")
            // s_addr is in network order; IPAddress wants the value in host order.
            return records.prefix(Int(count)).map { IPAddress(ipv4: UInt32(bigEndian: $0.ipaddr.s_addr)) }
        }
        precondition(type == .aaaa, "only A and AAAA replies hold addresses")
        var records = [ares_addr6ttl](repeating: ares_addr6ttl(), count: Int(count))
        try ResolverError.check(
            ares_parse_aaaa_reply(answer, Int32(answer.count), nil, &records, &count), "AAAA \(name)")
        return records.prefix(Int(count)).compactMap { record in
            withUnsafeBytes(of: record.ip6addr._S6_un._S6_u8) { IPAddress(ipv6NetworkBytes: $0) }
        }
    }
}

/// A completion closure as one object, so its address can travel through c-ares's `void *`.
private final class CompletionBox {
    let completion: Channel.Completion
    /// `PTR 10.2.0.192.in-addr.arpa`: what a failure's message is about.
    let query: String
    init(_ completion: @escaping Channel.Completion, query: String) {
        self.completion = completion
        self.query = query
    }
}
