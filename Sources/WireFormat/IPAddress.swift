/// An IPv4 or IPv6 address held as 128 bits, IPv4 in its IPv4-mapped form (`::ffff:a.b.c.d`).
///
/// One representation for both families keeps the per-source table and its keys uniform: an
/// IPv4 source is simply a 128-bit key whose upper 96 bits are fixed. The mapped form cannot be
/// confused with a real IPv6 source because IPv6 packets carrying a mapped source are invalid on
/// the wire (RFC 4291 §2.5.5.2) and the decoder never produces one from an IPv6 header.
public struct IPAddress: Hashable, Sendable, Comparable {
    /// Bits 127…64 of the address, network order.
    public var high: UInt64
    /// Bits 63…0 of the address, network order.
    public var low: UInt64

    static let mappedMarker: UInt64 = 0x0000_FFFF_0000_0000

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its 32-bit value in host order (`0xC6120001` is 198.18.0.1).
    @inlinable
    public init(ipv4 value: UInt32) {
        self.high = 0
        self.low = 0x0000_FFFF_0000_0000 | UInt64(value)
    }

    /// An IPv6 address from its 16 bytes in network order (as `in6_addr` and DNS records hold
    /// it); nil for any other count.
    public init?<Bytes: Collection<UInt8>>(ipv6NetworkBytes bytes: Bytes) {
        guard bytes.count == 16 else { return nil }
        self.init(
            high: bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) },
            low: bytes.suffix(8).reduce(0) { $0 << 8 | UInt64($1) })
    }

    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public var networkBytes: [UInt8] {
        if isIPv4 { return (0..<4).map { UInt8(truncatingIfNeeded: ipv4Value >> (24 - 8 * $0)) } }
        return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    public var isIPv4: Bool { high == 0 && (low & 0xFFFF_FFFF_0000_0000) == Self.mappedMarker }

    /// The IPv4 value in host order; meaningful only when `isIPv4`.
    public var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: low) }

    /// Prefix length as counted in this address's own family (32 for IPv4, 128 for IPv6).
    public var familyBitWidth: Int { isIPv4 ? 32 : 128 }

    /// This address with every bit after the first `prefixLength` bits of its family cleared.
    public func masked(toPrefixLength prefixLength: Int) -> IPAddress {
        let bits = isIPv4 ? 96 + min(max(prefixLength, 0), 32) : min(max(prefixLength, 0), 128)
        let highMask: UInt64 = bits >= 64 ? ~0 : (bits == 0 ? 0 : ~0 << (64 - bits))
        let lowBits = bits - 64
        let lowMask: UInt64 = lowBits <= 0 ? 0 : (lowBits >= 64 ? ~0 : ~0 << (64 - lowBits))
        return IPAddress(high: high & highMask, low: low & lowMask)
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }
}

extension IPAddress: CustomStringConvertible {
    /// Dotted quad for IPv4, RFC 5952 text for IPv6 (lower case, longest zero run compressed).
    public var description: String {
        if isIPv4 {
            var bytes: [UInt8] = []
            appendText(to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        return ipv6Text
    }

    /// Appends `description` as ASCII bytes; an IPv4 address without building a string, as
    /// reports print one per line.
    public func appendText(to bytes: inout [UInt8]) {
        guard isIPv4 else {
            bytes.append(contentsOf: ipv6Text.utf8)
            return
        }
        let v = ipv4Value
        for shift in stride(from: 24, through: 0, by: -8) {
            let octet = UInt8(truncatingIfNeeded: v >> UInt32(shift))
            if octet >= 100 { bytes.append(UInt8(ascii: "0") + octet / 100) }
            if octet >= 10 { bytes.append(UInt8(ascii: "0") + octet / 10 % 10) }
            bytes.append(UInt8(ascii: "0") + octet % 10)
            if shift > 0 { bytes.append(UInt8(ascii: ".")) }
        }
    }

    private var ipv6Text: String {
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(i)))
            groups[i + 4] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(i)))
        }
        // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first if tied.
        var bestStart = -1
        var bestLength = 1
        var runStart = -1
        for i in 0...8 {
            if i < 8 && groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength {
                    bestStart = runStart
                    bestLength = i - runStart
                }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

extension IPAddress {
    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::` and an embedded IPv4 tail).
    public init?(_ text: some StringProtocol) {
        if text.contains(":") {
            guard let value = Self.parseIPv6(Substring(text)) else { return nil }
            self = value
        } else {
            guard let v4 = Self.parseIPv4(Substring(text)) else { return nil }
            self.init(ipv4: v4)
        }
    }

    static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func parseIPv6(_ text: Substring) -> IPAddress? {
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        let compressions = text.ranges(of: "::")
        guard compressions.count <= 1 else { return nil }
        let halves: [String] =
            compressions.first.map {
                [String(text[..<$0.lowerBound]), String(text[$0.upperBound...])]
            } ?? [String(text)]
        func parseGroups(_ s: String, into out: inout [UInt16], allowIPv4Tail: Bool) -> Bool {
            if s.isEmpty { return true }
            let pieces = s.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if allowIPv4Tail && index == pieces.count - 1 && piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return false }
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xFFFF))
                    continue
                }
                guard (1...4).contains(piece.count), let g = UInt16(piece, radix: 16) else { return false }
                out.append(g)
            }
            return true
        }
        if halves.count == 2 {
            guard parseGroups(halves[0], into: &groups, allowIPv4Tail: false),
                parseGroups(halves[1], into: &tail, allowIPv4Tail: true),
                groups.count + tail.count <= 7
            else { return nil }
            groups += [UInt16](repeating: 0, count: 8 - groups.count - tail.count) + tail
        } else {
            guard parseGroups(halves[0], into: &groups, allowIPv4Tail: true), groups.count == 8 else {
                return nil
            }
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<4 { high = high << 16 | UInt64(groups[i]) }
        for i in 4..<8 { low = low << 16 | UInt64(groups[i]) }
        return IPAddress(high: high, low: low)
    }
}

/// An address block such as `198.18.0.0/15` or `2001:db8::/32`.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    /// Length in the family's own bits (0…32 for IPv4, 0…128 for IPv6).
    public let length: Int

    public init(network: IPAddress, length: Int) {
        self.length = length
        self.network = network.masked(toPrefixLength: length)
    }

    /// Parses `ADDRESS/LENGTH` or a bare address (a host prefix).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(parts[0]) else { return nil }
        var length = address.familyBitWidth
        if parts.count == 2 {
            guard let n = Int(parts[1]), (0...address.familyBitWidth).contains(n) else { return nil }
            length = n
        }
        self.init(network: address, length: length)
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.isIPv4 == network.isIPv4 && address.masked(toPrefixLength: length) == network
    }

    public var description: String { "\(network)/\(length)" }
}
