internal import Glibc
public import WireFormat

/// A problem with a `dshield.ini`: unreadable, readable by others, or a bad value.
public struct DShieldConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    /// 1-based line of a bad value; nil for file-level problems.
    public let line: Int?
    public let message: String

    public var description: String { line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)" }
}

/// The keys of the official sensor's `dshield.ini` that apply to a capture sensor (reference §7),
/// plus ScanTap's own in a `[scantap]` section.
///
/// `[DShield]`: `userid`, `apikey`, `email` (the contact put in the User-Agent, as ISC asks of
/// API clients), `honeypotip` (the sensor's own addresses: the home network when no other is
/// given), `nofwlogging` and `localips` (addresses never reported as sources), `localcopy`. Other
/// keys (`piid`, installer options, honeypot redirection) are read past: the official installer
/// writes them. `[scantap]`: `submiturl` (a test receiver or `devsubmitapi`; the official client
/// has no such key), `policy` (`all`, `failed`, `scans`), `ipv6` (`yes`/`no`), `maxage` (seconds);
/// any other key there is an error, since only ScanTap writes that section and a typo
/// (`polcy=all`) would otherwise be silently ignored.
/// Lists are separated by spaces or commas, as the installer writes them.
public struct DShieldConfig: Sendable, CustomStringConvertible {
    public var userID = 0
    /// The secret. Never part of `description`.
    public var apiKey = ""
    /// The operator's contact address, for the User-Agent.
    public var email = ""
    public var honeypotAddresses: [IPPrefix] = []
    public var noFirewallLogging: [IPPrefix] = []
    public var localAddresses: [IPPrefix] = []
    public var localCopy: String? = nil
    public var submitURL: String? = nil
    public var policy: ReportPolicy? = nil
    public var includeIPv6: Bool? = nil
    public var maximumRecordAgeSeconds: Int64? = nil

    public init() {}

    /// Source exclusions: the official list plus `nofwlogging` and `localips`.
    public var exclusions: AddressExclusions { AddressExclusions(extra: noFirewallLogging + localAddresses) }

    public var description: String {
        "userid=\(userID) apikey=\(apiKey.isEmpty ? "(none)" : "(set, hidden)") email=\(email) honeypotip=\(honeypotAddresses) "
            + "nofwlogging=\(noFirewallLogging) localips=\(localAddresses) policy=\(policy?.rawValue ?? "default")"
    }

    /// Reads `path`, refusing a file that anyone but its owner may read or write: it holds the
    /// API key, and the official installer restricts it the same way.
    public static func load(path: String) throws(DShieldConfigError) -> DShieldConfig {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw DShieldConfigError(path: path, line: nil, message: String(cString: strerror(errno)))
        }
        guard info.st_mode & 0o077 == 0 else {
            throw DShieldConfigError(
                path: path, line: nil,
                message:
                    "readable or writable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); run chmod 600 — it holds the API key"
            )
        }
        guard let file = fopen(path, "r") else {
            throw DShieldConfigError(path: path, line: nil, message: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n == 0 { break }
            bytes.append(contentsOf: chunk[..<n])
        }
        return try parse(String(decoding: bytes, as: UTF8.self), path: path)
    }

    /// Parses INI text; `path` only names the source in errors.
    public static func parse(_ text: String, path: String = "dshield.ini") throws(DShieldConfigError) -> DShieldConfig {
        var config = DShieldConfig()
        var section = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingWhitespace()
            func fail(_ message: String) -> DShieldConfigError {
                DShieldConfigError(path: path, line: index + 1, message: message)
            }
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = line.dropFirst().dropLast().lowercased()
                continue
            }
            guard let equals = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw fail("expected key=value")
            }
            let key = line[..<equals].trimmingWhitespace().lowercased()
            let value = line[line.index(after: equals)...].trimmingWhitespace()
            func prefixes() throws(DShieldConfigError) -> [IPPrefix] {
                var list: [IPPrefix] = []
                for item in value.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
                    guard let prefix = IPPrefix(item) else { throw fail("\(key): not an address or network: \(item)") }
                    list.append(prefix)
                }
                return list
            }
            switch (section, key) {
            case ("dshield", "userid"):
                guard let id = Int(value), id >= 0 else { throw fail("userid must be a number") }
                config.userID = id
            case ("dshield", "apikey"):
                // The official client accepts only base64 characters; anything else is a paste error.
                guard value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "=+/".contains($0)) }) else {
                    throw fail("apikey has characters other than letters, digits, =, + and /")
                }
                config.apiKey = value
            case ("dshield", "email"):
                // It goes into the User-Agent comment: printable ASCII without parentheses.
                guard
                    value.allSatisfy({
                        $0.isASCII && !$0.isNewline && $0 != "(" && $0 != ")"
                            && ($0 == " " || $0.isPunctuation || $0.isSymbol || $0.isLetter || $0.isNumber)
                    })
                else {
                    throw fail("email must be plain ASCII without parentheses (it goes into the User-Agent)")
                }
                config.email = value
            case ("dshield", "honeypotip"): config.honeypotAddresses = try prefixes()
            case ("dshield", "nofwlogging"): config.noFirewallLogging = try prefixes()
            case ("dshield", "localips"): config.localAddresses = try prefixes()
            case ("dshield", "localcopy"): config.localCopy = value.isEmpty ? nil : value
            case ("scantap", "submiturl"): config.submitURL = value
            case ("scantap", "policy"):
                guard let policy = ReportPolicy(rawValue: value) else {
                    throw fail("policy must be all, failed or scans")
                }
                config.policy = policy
            case ("scantap", "ipv6"):
                guard ["yes", "no", "true", "false"].contains(value.lowercased()) else {
                    throw fail("ipv6 must be yes or no")
                }
                config.includeIPv6 = ["yes", "true"].contains(value.lowercased())
            case ("scantap", "maxage"):
                guard let seconds = Int64(value), seconds > 0 else {
                    throw fail("maxage must be a positive number of seconds")
                }
                config.maximumRecordAgeSeconds = seconds
            case ("scantap", _):
                throw fail("unknown key '\(key)' in [scantap] (known: submiturl, policy, ipv6, maxage)")
            default: continue  // the installer's and honeypot's keys
            }
        }
        return config
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
