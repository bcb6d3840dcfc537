internal import CPcap
internal import Glibc
public import WireFormat

/// One IPv4 or IPv6 address of an interface, as `pcap_findalldevs` reports it.
public struct InterfaceAddress: Sendable, Equatable {
    public let address: IPAddress
    /// The netmask's length in bits; nil when libpcap reports no netmask.
    public let prefixLength: Int?

    public init(address: IPAddress, prefixLength: Int?) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// A link-local address (169.254/16, fe80::/10): it never receives traffic from beyond the
    /// link, so it belongs to no network the sensor could guard.
    public var isLinkLocal: Bool {
        address.isIPv4 ? address.ipv4Value >> 16 == 0xA9FE : address.high >> 54 == 0x3FA
    }
}

/// A device libpcap can capture on, with the addresses the system gave it.
public struct NetworkInterface: Sendable, Equatable {
    public let name: String
    /// libpcap's human description, when it has one.
    public let description: String?
    /// The interface's IPv4 and IPv6 addresses; other families (link layer) are left out.
    public let addresses: [InterfaceAddress]

    public init(name: String, description: String?, addresses: [InterfaceAddress]) {
        self.name = name
        self.description = description
        self.addresses = addresses
    }

    /// Every device libpcap can capture on. The corresponding C functions are
    /// `pcap_findalldevs` and `pcap_freealldevs`.
    ///
    /// - Throws: `CaptureError.Kind.listInterfaces` with libpcap's message.
    public static func all() throws(CaptureError) -> [NetworkInterface] {
        var errbuf = ErrorBuffer()
        var first: UnsafeMutablePointer<pcap_if_t>? = nil
        guard errbuf.withPointer({ pcap_findalldevs(&first, $0) }) == 0 else {
            throw CaptureError(.listInterfaces, source: "pcap_findalldevs", message: errbuf.message)
        }
        defer { if first != nil { pcap_freealldevs(first) } }
        var interfaces: [NetworkInterface] = []
        var device = first
        while let current = device {
            var addresses: [InterfaceAddress] = []
            var entry = current.pointee.addresses
            while let item = entry {
                if let address = ipAddress(item.pointee.addr) {
                    addresses.append(
                        InterfaceAddress(
                            address: address, prefixLength: ipAddress(item.pointee.netmask).map(prefixLength)))
                }
                entry = item.pointee.next
            }
            interfaces.append(
                NetworkInterface(
                    name: String(cString: current.pointee.name),
                    description: current.pointee.description.map { String(cString: $0) },
                    addresses: addresses))
            device = current.pointee.next
        }
        return interfaces
    }
}

/// The IPv4 or IPv6 address in a socket address; nil for other families (and for none).
private func ipAddress(_ socketAddress: UnsafeMutablePointer<sockaddr>?) -> IPAddress? {
    guard let socketAddress else { return nil }
    switch Int32(socketAddress.pointee.sa_family) {
    case AF_INET:
        // The family says the storage is a sockaddr_in, which libpcap allocated in full.
        let v4 = UnsafeRawPointer(socketAddress).loadUnaligned(as: sockaddr_in.self)
        return IPAddress(ipv4: UInt32(bigEndian: v4.sin_addr.s_addr))
    case AF_INET6:
        let v6 = UnsafeRawPointer(socketAddress).loadUnaligned(as: sockaddr_in6.self)
        return withUnsafeBytes(of: v6.sin6_addr) { IPAddress(ipv6NetworkBytes: $0) }
    default:
        return nil
    }
}

/// The number of leading one bits of a netmask in its own family.
private func prefixLength(_ netmask: IPAddress) -> Int {
    if netmask.isIPv4 { return (~netmask.ipv4Value).leadingZeroBitCount }
    return netmask.high == .max ? 64 + (~netmask.low).leadingZeroBitCount : (~netmask.high).leadingZeroBitCount
}
