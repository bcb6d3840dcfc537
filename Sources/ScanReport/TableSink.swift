public import ScanDetection
public import WireFormat

/// Human-readable output: an alert line the moment a scanner is declared, a block per episode,
/// and the statistics at the end.
public final class TableSink: EventSink {
    public let output: any LineOutput
    private var summary = VerdictSummary()

    public init(output: any LineOutput) { self.output = output }

    public func alert(_ a: Alert) {
        output.write(
            "ALERT \(a.time.rfc3339)  \(a.source)  \(a.technique.rawValue) scan, declared after "
                + "\(a.detectedAfter) first contacts (\(a.path.rawValue))\n")
    }

    public func alertsSuppressed(count: Int, first: Timestamp, last: Timestamp) {
        output.write("ALERT \(count) more held back by the alert rate limit, \(first.rfc3339) .. \(last.rfc3339)\n")
    }

    public func episode(_ e: Episode) {
        summary.add(e)
        let c = e.classification
        let label = c.organization.map { "\(c.verdict.rawValue) (\($0))" } ?? c.verdict.rawValue
        let evidence = c.evidence.isEmpty ? "" : "  evidence: " + c.evidence.joined(separator: "; ")
        let ports = e.ports.map(String.init).joined(separator: " ")
        let direction = e.direction.map { " \($0.rawValue)" } ?? ""
        var text = "SCAN  \(e.source)  \(e.technique.rawValue) \(e.shape.rawValue)\(direction)  "
        text += "\(e.firstSeen.rfc3339) .. \(e.lastSeen.rfc3339)\n"
        text += "      probes \(e.probes), ~\(e.distinctPorts) ports, ~\(e.distinctTargets) hosts, "
        text += "detected after \(e.detectedAfter) (\(e.decidedBy.rawValue)), closed by \(e.end.rawValue)\n"
        text += "      ports \(ports)\n"
        text += "      tool \(e.tool ?? "-")  verdict \(label)\(evidence)\n"
        output.write(text)
    }

    public func flush() { output.flush() }

    public func finish(_ s: RunStatistics) {
        func line(_ label: String, _ t: VerdictSummary.Tally) -> String {
            "  \(label): \(t.episodes) episode\(t.episodes == 1 ? "" : "s"), \(t.probes) probes\n"
        }
        var text = "summary\n" + line("research scanners", summary.research)
        for (name, tally) in summary.organizationsByProbes { text += "  " + line(name, tally) }
        text += line("malicious", summary.malicious) + line("unknown", summary.unknown)
        output.write(text)
        output.write(
            "\(s.episodes) scan episode\(s.episodes == 1 ? "" : "s"); \(s.packets) packets, "
                + "\(s.decoded) decoded, \(s.malformed) malformed, \(s.kernelDrops) dropped by the kernel; "
                + "\(s.sourcesTracked) sources tracked, \(s.evictions) evicted, \(s.untracked) untracked; "
                + "\(s.fragmentsReassembled) fragmented datagrams reassembled, \(s.fragmentOverlaps) overlapping fragments\n"
        )
        output.flush()
    }
}
