public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `scripts/dshield-receiver.py` running on loopback: a local stand-in for submitapi that checks
/// each POST's HMAC under the test key and records what it accepts.
public final class DShieldReceiver {
    /// The user id and API key the receiver checks signatures against.
    public static let userID = 12345
    public static let apiKey = "VGVzdEtleQ=="

    private let process: Process
    /// Where to POST.
    public let url: URL

    /// Starts the receiver; it answers with `statuses` (comma-separated) in turn, then 200, and
    /// appends every accepted record to `received` as a JSON line.
    public init(statuses: String, received: String) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/dshield-receiver.py").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, String(Self.userID), Self.apiKey, statuses, received]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // Its first line is the port it listens on.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let port = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        url = URL(string: "http://127.0.0.1:\(port)/submitapi/")!
    }

    /// Stops it with SIGKILL: a child of a test process may inherit a mask that blocks SIGTERM.
    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
