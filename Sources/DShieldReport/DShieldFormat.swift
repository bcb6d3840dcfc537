internal import WireFormat

/// The classic tab-separated DShield text format (reference §1): a subject line, then one
/// record per line.
///
/// Times are written in UTC with the offset `+00:00`, so the subject's `TZ` and every line agree
/// whatever the host's zone. The count column is always 1: the flow table already emits one
/// record per flow, which is what the official sensor sends.
public struct DShieldTextFormat: Sendable {
    /// The DShield user id; 0 is the old clients' anonymous id.
    public var userID: Int
    /// Client identification appended to the subject, e.g. `SCANTAP 0.4`.
    public var client: String

    public init(userID: Int, client: String) {
        self.userID = userID
        self.client = client
    }

    /// `FORMAT DSHIELD USERID <id> TZ +00:00 <client>`, the keyword line every client sends.
    public var subjectLine: String { "FORMAT DSHIELD USERID \(userID) TZ +00:00 \(client)" }

    /// One record: date, userid, count, source, source port (ICMP type), target, target port
    /// (ICMP code), protocol number, flags — separated by single tabs, ended by a newline.
    public func line(_ record: DShieldRecord) -> String {
        let fields = [
            Self.utcDateTime(record.time) + " +00:00", String(userID), "1",
            Self.address(record.source), String(record.sourcePort),
            Self.address(record.destination), String(record.destinationPort),
            String(record.ipProtocol), record.flagLetters,
        ]
        return fields.joined(separator: "\t") + "\n"
    }

    /// The subject line, a blank line, then every record: a complete e-mail or upload body.
    public func document(_ records: [DShieldRecord]) -> String {
        subjectLine + "\n\n" + records.map(line).joined()
    }

    /// `YYYY-MM-DD HH:MM:SS` in UTC, cut from WireFormat's RFC 3339 text so the calendar
    /// arithmetic lives in one place.
    static func utcDateTime(_ seconds: Int64) -> String {
        let rfc3339 = Timestamp(seconds: seconds).rfc3339  // 2026-03-01T14:05:09.000000Z
        return String(rfc3339.prefix(10)) + " " + String(rfc3339.dropFirst(11).prefix(8))
    }

    /// Dotted quad, or IPv6 fully expanded in lower case: the only IPv6 form the DShield
    /// framework client's validator accepts (reference §1.1, field 4).
    static func address(_ address: IPAddress) -> String {
        guard !address.isIPv4 else { return address.description }
        func hex4(_ group: UInt64) -> String {
            let text = String(group & 0xFFFF, radix: 16)
            return String(repeating: "0", count: 4 - text.count) + text
        }
        var groups: [String] = []
        for word in [address.high, address.low] {
            for shift: UInt64 in [48, 32, 16, 0] { groups.append(hex4(word >> shift)) }
        }
        return groups.joined(separator: ":")
    }
}

/// The submitapi JSON body (reference §2.2), with the official client's field types exactly:
/// `time`, `proto` and `version` integers, `sport` and `dport` strings of digits, `flags` always
/// present (empty for non-TCP).
///
/// Keys and separators follow the official sensor's output (Python `json.dumps` defaults), so
/// a body can be compared with one it would send. Every value comes from a closed alphabet
/// (digits, address text, flag letters, base64 and spaces), so no string needs escaping.
public enum DShieldJSONFormat {
    /// The body's `type` and the `X-ISC-LogType` header.
    public static let logType = "firewall"

    /// One element of `logs`.
    public static func record(_ record: DShieldRecord) -> String {
        "{\"time\": \(record.time), \"flags\": \"\(record.flagLetters)\", \"sip\": \"\(record.source)\", "
            + "\"dip\": \"\(record.destination)\", \"proto\": \(record.ipProtocol), \"sport\": \"\(record.sourcePort)\", "
            + "\"dport\": \"\(record.destinationPort)\", \"version\": \(record.ipVersion)}"
    }

    /// `{"type": "firewall", "logs": [...]}`: the body before it is signed, as `scantap read
    /// --dshield-json` writes it for inspection.
    public static func unsignedBody(_ records: [DShieldRecord]) -> String {
        envelope(records, authheader: nil)
    }

    /// `{"type": "firewall", "logs": [...], "authheader": "..."}`; the authheader repeats the
    /// `X-ISC-Authorization` header, as the official sensor adds it.
    public static func body(_ records: [DShieldRecord], authorization: ISCAuthorization) -> String {
        envelope(records, authheader: authorization.headerValue)
    }

    private static func envelope(_ records: [DShieldRecord], authheader: String?) -> String {
        "{\"type\": \"\(logType)\", \"logs\": [" + records.map(record).joined(separator: ", ") + "]"
            + (authheader.map { ", \"authheader\": \"\($0)\"" } ?? "") + "}"
    }
}
