public import WireFormat

/// Addresses that never become DShield records: as sources, the blocks the official sensor's
/// firewall rules never log plus the operator's own lists; as destinations, multicast and
/// broadcast.
public struct AddressExclusions: Sendable {
    /// The official sensor's always-excluded sources (`bin/install.sh`, reference §3.1): private,
    /// shared, loopback, link-local, IETF and documentation blocks, multicast, reserved and the
    /// limited broadcast. Kept exactly: `198.51.100.0/24`, `203.0.113.0/24`, `198.18.0.0/15` and
    /// `0.0.0.0/8` are not in it, so they are not here either.
    public static let officialSensorSources: [IPPrefix] = [
        "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.0.2.0/24", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
    ].map { IPPrefix($0)! }

    /// The IPv6 counterparts, used when IPv6 records are enabled (the official sensor reports
    /// IPv4 only, so it has no list): unspecified, loopback, unique-local, link-local, multicast
    /// and documentation sources cannot be an Internet scanner's real address.
    public static let ipv6NonGlobalSources: [IPPrefix] = [
        "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32",
    ].map { IPPrefix($0)! }

    /// Every excluded source block: the two built-in lists and the operator's.
    public let sources: [IPPrefix]

    /// - Parameter extra: the operator's own and admin addresses (`dshield.ini` `localips`,
    ///   `nofwlogging`, and the sensor's own public address), and any other list.
    public init(extra: [IPPrefix] = []) {
        sources = Self.officialSensorSources + Self.ipv6NonGlobalSources + extra
    }

    /// Whether a packet from `address` is never reported.
    public func excludesSource(_ address: IPAddress) -> Bool {
        sources.contains { $0.contains(address) }
    }

    /// Whether `address` is a multicast or limited-broadcast destination, which the official
    /// sensor's rules skip (`--pkt-type multicast`, `-d 255.255.255.255`): such packets are
    /// discovery chatter, not attempts on a host.
    public static func isGroupDestination(_ address: IPAddress) -> Bool {
        if address.isIPv4 {
            let v = address.ipv4Value
            return v >> 28 == 0xE || v == 0xFFFF_FFFF
        }
        return address.high >> 56 == 0xFF
    }
}
