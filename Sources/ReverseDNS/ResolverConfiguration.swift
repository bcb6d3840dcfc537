public import WireFormat

/// The DNS server a resolver asks: `ADDR[:PORT]`, IPv6 addresses in brackets when a port is
/// given (`[2001:db8::53]:5353`).
public struct DNSServer: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let port: UInt16

    /// The port DNS servers listen on.
    public static let defaultPort: UInt16 = 53

    public init(address: IPAddress, port: UInt16 = DNSServer.defaultPort) {
        self.address = address
        self.port = port
    }

    /// Parses `ADDR`, `ADDR:PORT` (IPv4), `IPV6` or `[IPV6]:PORT`; nil when it is none of them.
    /// Port 0 is refused: it names no server.
    public init?(_ text: String) {
        func port(_ digits: Substring) -> UInt16? {
            guard let port = UInt16(digits), port != 0 else { return nil }
            return port
        }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                let address = IPAddress(text[text.index(after: text.startIndex)..<close]), !address.isIPv4
            else { return nil }
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                self.init(address: address)
            } else {
                guard rest.hasPrefix(":"), let number = port(rest.dropFirst()) else { return nil }
                self.init(address: address, port: number)
            }
        } else if let address = IPAddress(text) {
            self.init(address: address)
        } else if let colon = text.lastIndex(of: ":"), let address = IPAddress(text[..<colon]), address.isIPv4,
            let number = port(text[text.index(after: colon)...])
        {
            self.init(address: address, port: number)
        } else {
            return nil
        }
    }

    /// The form c-ares's server list takes: `a.b.c.d:PORT` or `[IPV6]:PORT`.
    public var description: String { address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)" }
}

/// The resolver's tunables: where to ask, how long to wait, how often to ask and how long to
/// remember.
///
/// Times are real time, not packet time: a DNS answer is true now, whatever the capture's age,
/// and a server is loaded by queries per real second. Defaults suit a sensor that looks up the
/// sources it declares scanners, a few per second at most.
public struct ResolverConfiguration: Sendable {
    /// The server to ask; nil for the system's (`/etc/resolv.conf`, as c-ares reads it).
    public var server: DNSServer?

    /// How long one query waits for an answer before c-ares sends it again: 2 s. A resolver that
    /// answers at all answers well within it (recursion on a cold cache takes a few hundred ms),
    /// and a lookup's worst case stays seconds, not the minute of a stub resolver's defaults.
    public var queryTimeout: Duration = .seconds(2)

    /// How many times c-ares sends each query before it reports a timeout: 2, so one lost UDP
    /// datagram does not cost an answer. c-ares doubles the wait on each round, so a dead server
    /// costs a query `queryTimeout × 3` (6 s) by default.
    public var attempts: Int = 2

    /// Lookups started per second, at most: 10. A lookup is one PTR query plus at most
    /// `maximumNamesChecked` forward queries. A sensor on a busy link declares sources in bursts;
    /// this keeps it from flooding the operator's resolver (or looking like a DNS scanner
    /// itself), and the queue absorbs bursts. One second's worth may start at once.
    public var lookupsPerSecond: Double = 10

    /// Addresses waiting to be looked up, at most: 1,024. When full, a request is dropped and
    /// counted rather than waited for: the capture path must never wait on DNS. At the default
    /// rate the queue drains in under two minutes, about one idle gap's worth of episodes.
    public var queueCapacity: Int = 1_024

    /// Addresses remembered, answered or pending: 65,536, the sensor's default source table.
    /// When full, the oldest entries go first. About 200 bytes each, so 13 MB at most.
    public var cacheCapacity: Int = 65_536

    /// How long a PTR name (confirmed or not) is remembered: 1 hour. c-ares 1.18's PTR parser
    /// (`ares_parse_ptr_reply`) drops the records' TTLs, so the lifetime is this fixed cap
    /// rather than the zone's TTL: long enough that a source scanning for an hour is looked up
    /// once, short enough that a renamed host is seen the same day. Research scanners' PTR
    /// records change rarely; a spoofed name gains nothing from being remembered, since it only
    /// ever counts after forward confirmation.
    public var positiveLifetime: Duration = .seconds(3_600)

    /// How long "no PTR record" is remembered: 15 minutes, the order of negative-caching TTLs in
    /// SOA records (RFC 2308 suggests 1–3 hours as the maximum). Most scanning sources have no
    /// PTR; asking again for each of their episodes would be most of the queries.
    public var negativeLifetime: Duration = .seconds(900)

    /// How long a failed lookup (a timeout, a server failure, or a PTR name whose forward
    /// lookup failed) is remembered: 1 minute. Long enough that a dead resolver is not asked
    /// again for every episode, short enough that a passing outage is soon forgotten.
    public var failureLifetime: Duration = .seconds(60)

    /// PTR names checked forward per address, at most: 4. Whoever controls a reverse zone can
    /// return hundreds of PTR records to make the sensor send hundreds of queries; real hosts
    /// have one, rarely two.
    public var maximumNamesChecked: Int = 4

    public init(server: DNSServer? = nil) {
        self.server = server
    }
}
