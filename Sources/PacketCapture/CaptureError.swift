/// A libpcap failure, with libpcap's own message.
public struct CaptureError: Error, CustomStringConvertible, Sendable {
    /// What the sensor was doing; decides the exit status (a bad filter is the user's mistake).
    public enum Kind: Sendable, Equatable {
        /// Opening a savefile or an interface failed (missing, unreadable, not a capture).
        case open
        /// The filter expression does not compile.
        case filterSyntax
        /// Installing a compiled filter failed.
        case setFilter
        /// Reading packets failed part-way (a truncated or corrupt savefile, an interface gone).
        case read
        /// The capture's data-link type is one the decoder cannot read.
        case unsupportedLinkType
        /// Reading interface statistics failed.
        case statistics
        /// Listing the capture devices and their addresses failed.
        case listInterfaces
    }

    public let kind: Kind
    /// The capture it concerns: a file path or an interface name.
    public let source: String
    /// libpcap's message (from the error buffer or `pcap_geterr`).
    public let message: String

    public init(_ kind: Kind, source: String, message: String) {
        self.kind = kind
        self.source = source
        self.message = message
    }

    /// One line naming the capture once: libpcap's own message names the file for some
    /// failures (a missing file) and not for others (an unknown format).
    public var description: String { message.hasPrefix("\(source): ") ? message : "\(source): \(message)" }
}
