public import ScanDetection
public import WireFormat

/// One JSON object per line: the machine contract documented in the README. Keys appear in a
/// fixed order and new keys are only ever appended, so line-oriented tools can rely on them.
public final class JSONLinesSink: EventSink {
    public let output: any LineOutput
    /// The line being built; reused, so writing a line allocates nothing once it has grown.
    private var line = JSONLine()
    private var summary = VerdictSummary()

    public init(output: any LineOutput) { self.output = output }

    public func alert(_ a: Alert) {
        line.begin("alert")
        line.key("src", address: a.source)
        line.key("technique", string: a.technique.rawValue)
        line.key("detected_after", a.detectedAfter)
        line.key("time", time: a.time)
        line.key("decided_by", string: a.path.rawValue)
        emit()
    }

    public func alertsSuppressed(count: Int, first: Timestamp, last: Timestamp) {
        line.begin("alerts_suppressed")
        line.key("count", count)
        line.key("first", time: first)
        line.key("last", time: last)
        emit()
    }

    public func episode(_ e: Episode) {
        summary.add(e)
        line.begin("scan")
        line.key("src", address: e.source)
        line.key("first_seen", time: e.firstSeen)
        line.key("last_seen", time: e.lastSeen)
        line.key("technique", string: e.technique.rawValue)
        line.key("shape", string: e.shape.rawValue)
        line.key("probes", e.probes)
        line.key("distinct_ports", e.distinctPorts)
        line.key("distinct_targets", e.distinctTargets)
        line.key("ports", integers: e.ports)
        line.key("detected_after", e.detectedAfter)
        line.key("tool", string: e.tool)
        line.key("tool_confidence", number: e.toolConfidence)
        line.key("verdict", string: e.classification.verdict.rawValue)
        line.key("org", string: e.classification.organization)
        line.key("evidence", strings: e.classification.evidence)
        line.key("decided_by", string: e.decidedBy.rawValue)
        line.key("successes", e.successes)
        line.key("failures", e.failures)
        line.key("closed_by", string: e.end.rawValue)
        line.key("confidence", number: e.classification.confidence)
        line.key("direction", string: e.direction?.rawValue)
        line.key("payload_hosts", e.payloadHosts)
        emit()
    }

    public func flush() { output.flush() }

    /// One `scantap classify` answer: `{"ip":…,"verdict":…,"org":…,"evidence":[…],"confidence":…}`.
    public func verdict(for address: IPAddress, _ c: Classification) {
        line.bytes.removeAll(keepingCapacity: true)
        line.append("{\"ip\":")
        line.quote(address.description)
        line.key("verdict", string: c.verdict.rawValue)
        line.key("org", string: c.organization)
        line.key("evidence", strings: c.evidence)
        line.key("confidence", number: c.confidence)
        emit()
    }

    /// Writes a line through unchanged (with its newline).
    public func passThrough(_ text: String) {
        output.write(text + "\n")
    }

    public func finish(_ s: RunStatistics) {
        // The summary: episodes and probes by verdict, research scanners by organisation.
        line.begin("summary")
        line.key("research", summary.research)
        line.key("malicious", summary.malicious)
        line.key("unknown", summary.unknown)
        line.key("organizations")
        line.bytes.append(UInt8(ascii: "{"))
        for (i, (name, tally)) in summary.organizationsByProbes.enumerated() {
            if i > 0 { line.bytes.append(UInt8(ascii: ",")) }
            line.quote(name)
            line.append(":")
            line.tally(tally)
        }
        line.bytes.append(UInt8(ascii: "}"))
        emit()
        line.begin("stats")
        line.key("packets", s.packets)
        line.key("decoded", s.decoded)
        line.key("malformed", s.malformed)
        line.key("kernel_drops", s.kernelDrops)
        line.key("sources_tracked", s.sourcesTracked)
        line.key("evictions", s.evictions)
        line.key("episodes", s.episodes)
        line.key("untracked", s.untracked)
        line.key("fragments_reassembled", s.fragmentsReassembled)
        line.key("fragment_overlaps", s.fragmentOverlaps)
        emit()
        output.flush()
    }

    private func emit() {
        line.end()
        line.bytes.withUnsafeBytes { output.write($0) }
    }
}

/// Builds one JSON object as bytes.
struct JSONLine {
    var bytes: [UInt8] = []

    mutating func begin(_ event: String) {
        bytes.removeAll(keepingCapacity: true)
        append("{\"event\":")
        quote(event)
    }

    mutating func end() { append("}\n") }

    mutating func key(_ name: StaticString) {
        bytes.append(UInt8(ascii: ","))
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        append("\":")
    }

    mutating func key(_ name: StaticString, _ value: Int) {
        key(name)
        integer(value)
    }

    mutating func key(_ name: StaticString, string value: String?) {
        key(name)
        if let value { quote(value) } else { append("null") }
    }

    mutating func key(_ name: StaticString, _ tally: VerdictSummary.Tally) {
        key(name)
        self.tally(tally)
    }

    /// `{"episodes":N,"probes":N}`.
    mutating func tally(_ t: VerdictSummary.Tally) {
        append("{\"episodes\":")
        integer(t.episodes)
        append(",\"probes\":")
        integer(t.probes)
        append("}")
    }

    mutating func key(_ name: StaticString, address: IPAddress) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        address.appendText(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func key(_ name: StaticString, time: Timestamp) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        time.appendRFC3339(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func key(_ name: StaticString, number value: Double?) {
        key(name)
        if let value { append(String(value)) } else { append("null") }
    }

    mutating func key(_ name: StaticString, integers values: [UInt16]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            integer(Int(v))
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func key(_ name: StaticString, strings values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            quote(v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func integer(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[i]) }
        }
    }

    /// A JSON string literal (RFC 8259 §7): quotes, backslashes and control characters escaped.
    mutating func quote(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\n"): append("\\n")
            case UInt8(ascii: "\r"): append("\\r")
            case UInt8(ascii: "\t"): append("\\t")
            case 0..<0x20:
                append("\\u00")
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
