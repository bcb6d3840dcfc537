public import ScannerClassification
import WireFormat

/// What reverse DNS says about an address, as far as the resolver knows it.
public enum ReverseLookup: Sendable, Equatable {
    /// Queued or in flight; ask again later.
    case pending
    /// The address has no PTR record (NXDOMAIN, or no PTR in the answer).
    case noName
    /// The address has a PTR name, but no name checked resolves back to the address: the
    /// address holder's word only. `name` is the first PTR name.
    case unconfirmed(name: String)
    /// `name` is a PTR name of the address and its A or AAAA records include the address.
    case confirmed(name: String)
    /// The lookup failed (a timeout, a server failure); it is retried once forgotten.
    case failed(ResolverError)

    /// The classifier's view: the PTR name and whether it forward-confirms, or nil when there is
    /// no name to weigh.
    ///
    /// An unconfirmed name is passed on, not hidden: the classifier never counts it, but says in
    /// its evidence that a research-looking name failed to confirm, which an operator wants to
    /// know (someone is dressing up as a research scanner).
    public var ptr: ConfirmedPTR? {
        switch self {
        case .confirmed(let name): ConfirmedPTR(name: name, forwardConfirmed: true)
        case .unconfirmed(let name): ConfirmedPTR(name: name, forwardConfirmed: false)
        case .pending, .noName, .failed: nil
        }
    }
}

extension IPAddress {
    /// The name whose PTR records name this address: `10.2.0.192.in-addr.arpa` for 192.0.2.10,
    /// 32 reversed nibbles under `ip6.arpa` for IPv6 (RFC 1035 §3.5, RFC 3596 §2.5).
    var reverseDNSName: String {
        if isIPv4 {
            let value = ipv4Value
            return "\(value & 0xFF).\((value >> 8) & 0xFF).\((value >> 16) & 0xFF).\(value >> 24).in-addr.arpa"
        }
        let digits = Array("0123456789abcdef")
        var name = ""
        name.reserveCapacity(72)
        for word in [low, high] {
            for nibble in 0..<16 {
                name.append(digits[Int((word >> (4 * UInt64(nibble))) & 0xF)])
                name.append(".")
            }
        }
        return name + "ip6.arpa"
    }
}
