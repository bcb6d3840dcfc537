public import ScanDetection
import WireFormat

/// One JSON object per line: the machine contract documented in the README. Keys appear in a
/// fixed order and new keys are only ever appended, so line-oriented tools can rely on them.
public final class JSONLinesSink<Output: TextOutputStream>: EventSink {
    public private(set) var output: Output
    private let flush: (inout Output) -> Void

    /// - Parameter flush: forces buffered lines out; called after every alert and at the end.
    public init(output: Output, flush: @escaping (inout Output) -> Void = { _ in }) {
        self.output = output
        self.flush = flush
    }

    public func alert(_ alert: Alert) {
        output.write(
            "{\"event\":\"alert\",\"src\":\(quote(alert.source.description)),"
                + "\"technique\":\(quote(alert.technique.rawValue)),"
                + "\"detected_after\":\(alert.detectedAfter),\"time\":\(quote(alert.time.rfc3339)),"
                + "\"decided_by\":\(quote(alert.path.rawValue))}\n")
        flush(&output)
    }

    public func episode(_ e: Episode) {
        let ports = e.ports.map(String.init).joined(separator: ",")
        let evidence = e.classification.evidence.map(quote).joined(separator: ",")
        output.write(
            "{\"event\":\"scan\",\"src\":\(quote(e.source.description)),"
                + "\"first_seen\":\(quote(e.firstSeen.rfc3339)),\"last_seen\":\(quote(e.lastSeen.rfc3339)),"
                + "\"technique\":\(quote(e.technique.rawValue)),\"shape\":\(quote(e.shape.rawValue)),"
                + "\"probes\":\(e.probes),\"distinct_ports\":\(e.distinctPorts),"
                + "\"distinct_targets\":\(e.distinctTargets),\"ports\":[\(ports)],"
                + "\"detected_after\":\(e.detectedAfter),"
                + "\"tool\":\(e.tool.map(quote) ?? "null"),"
                + "\"tool_confidence\":\(e.toolConfidence.map { String($0) } ?? "null"),"
                + "\"verdict\":\(quote(e.classification.verdict.rawValue)),"
                + "\"org\":\(e.classification.organization.map(quote) ?? "null"),"
                + "\"evidence\":[\(evidence)],"
                + "\"decided_by\":\(quote(e.decidedBy.rawValue)),\"successes\":\(e.successes),"
                + "\"failures\":\(e.failures),\"closed_by\":\(quote(e.end.rawValue))}\n")
    }

    public func finish(_ s: RunStatistics) {
        output.write(
            "{\"event\":\"stats\",\"packets\":\(s.packets),\"decoded\":\(s.decoded),"
                + "\"malformed\":\(s.malformed),\"kernel_drops\":\(s.kernelDrops),"
                + "\"sources_tracked\":\(s.sourcesTracked),\"evictions\":\(s.evictions),"
                + "\"episodes\":\(s.episodes)}\n")
        flush(&output)
    }
}

/// A JSON string literal (RFC 8259 §7): quotes, backslashes and control characters escaped.
func quote(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
