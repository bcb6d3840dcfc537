public import ScanDetection
import WireFormat

/// Human-readable output: an alert line the moment a scanner is declared, a block per episode,
/// and the statistics at the end.
public final class TableSink<Output: TextOutputStream>: EventSink {
    public private(set) var output: Output
    private let flush: (inout Output) -> Void

    public init(output: Output, flush: @escaping (inout Output) -> Void = { _ in }) {
        self.output = output
        self.flush = flush
    }

    public func alert(_ a: Alert) {
        output.write(
            "ALERT \(a.time.rfc3339)  \(a.source)  \(a.technique.rawValue) scan, declared after "
                + "\(a.detectedAfter) first contacts (\(a.path.rawValue))\n")
        flush(&output)
    }

    public func episode(_ e: Episode) {
        let label = e.classification.organization.map { "\(e.classification.verdict.rawValue) (\($0))" }
            ?? e.classification.verdict.rawValue
        output.write(
            "SCAN  \(e.source)  \(e.technique.rawValue) \(e.shape.rawValue)  \(e.firstSeen.rfc3339) .. "
                + "\(e.lastSeen.rfc3339)\n"
                + "      probes \(e.probes), ~\(e.distinctPorts) ports, ~\(e.distinctTargets) hosts, "
                + "detected after \(e.detectedAfter) (\(e.decidedBy.rawValue)), closed by "
                + "\(e.end.rawValue)\n"
                + "      ports \(e.ports.map(String.init).joined(separator: " "))\n"
                + "      tool \(e.tool ?? "-")  verdict \(label)"
                + (e.classification.evidence.isEmpty ? "" : "  evidence: "
                    + e.classification.evidence.joined(separator: "; ")) + "\n")
    }

    public func finish(_ s: RunStatistics) {
        output.write(
            "\(s.episodes) scan episode\(s.episodes == 1 ? "" : "s"); \(s.packets) packets, "
                + "\(s.decoded) decoded, \(s.malformed) malformed, \(s.kernelDrops) dropped by the kernel; "
                + "\(s.sourcesTracked) sources tracked, \(s.evictions) evicted\n")
        flush(&output)
    }
}
