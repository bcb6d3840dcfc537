internal import CAres

/// A c-ares failure, with c-ares's own message.
///
/// Thrown when a resolver cannot be set up, and carried by a lookup that failed (a timeout, a
/// server failure), so the operator reads the same words `ares_strerror` would print.
public struct ResolverError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The c-ares function that failed, or the query (`PTR 10.2.0.192.in-addr.arpa`) that did.
    public let operation: String
    /// The c-ares status code (`ARES_ETIMEOUT` is 12).
    public let status: Int32
    /// `ares_strerror`'s text for `status`.
    public let message: String

    init(_ operation: String, status: Int32) {
        self.operation = operation
        self.status = status
        self.message = Self.text(of: status)
    }

    /// Whether the server never answered: the lookup may work later, so it is cached briefly.
    public var isTimeout: Bool { status == ARES_ETIMEOUT }

    public var description: String { "\(operation): \(message)" }

    /// The message for a c-ares status code. The corresponding C function is `ares_strerror`.
    static func text(of status: Int32) -> String {
        // c-ares returns a pointer into a static table, never NULL.
        String(cString: ares_strerror(status))
    }

    /// Returns when `status` is `ARES_SUCCESS`, throws otherwise: the one place a c-ares status
    /// becomes an error.
    static func check(_ status: Int32, _ operation: @autoclosure () -> String) throws(ResolverError) {
        guard status == ARES_SUCCESS else { throw ResolverError(operation(), status: status) }
    }
}
