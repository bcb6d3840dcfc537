import Foundation
import ScanDetection
public import ScanReport
import ScannerClassification
import WireFormat

/// `scantap classify`: the shared classifier on its own, for addresses or for another sensor's
/// `scan` lines. Offline: only the local knowledge files are consulted.
public enum ClassifyCommand {
    /// Classifies what `options` names and writes JSON lines to `sink`.
    ///
    /// - Throws: `SensorError` for a knowledge file, or an episodes file that cannot be read or
    ///   holds a line that is not JSON; lines already written stay written.
    public static func run(_ options: SensorOptions, sink: JSONLinesSink) throws(SensorError) {
        guard case .classify(let addresses, let episodes) = options.mode else { return }
        var classificationOptions = options.classification
        classificationOptions.enabled = true
        guard let classifier = try ClassifierSetup.build(classificationOptions) else { return }
        for address in addresses {
            sink.verdict(for: address, classifier.classify(address: address, observed: Observation()).classification)
        }
        guard let episodes else { return }
        let text: String
        if episodes == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let contents = DataFiles.read(episodes) else {
                throw SensorError.runtime("\(episodes): cannot read the file")
            }
            text = contents
        }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy(\.isWhitespace) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                sink.flush()
                throw SensorError.runtime("\(episodes):\(index + 1): not a JSON object")
            }
            switch object["event"] as? String {
            case "scan": break
            case "summary": continue  // counted under the old verdicts: stale once relabelled
            default:
                sink.passThrough(String(line))  // alerts and stats pass through untouched
                continue
            }
            guard var episode = Episode(scanLine: object) else {
                sink.flush()
                throw SensorError.runtime("\(episodes):\(index + 1): a scan line without a valid src, first_seen or last_seen")
            }
            episode.classification = classifier.classify(episode)
            sink.episode(episode)
        }
        sink.flush()
    }
}

extension Episode {
    /// An episode from a `scan` line of the output contract (another sensor's, or a saved run).
    /// Fields the line lacks take neutral values; `src`, `first_seen` and `last_seen` are required.
    init?(scanLine o: [String: Any]) {
        guard let src = (o["src"] as? String).flatMap({ IPAddress($0) }),
            let first = (o["first_seen"] as? String).flatMap({ Timestamp(rfc3339: $0) }),
            let last = (o["last_seen"] as? String).flatMap({ Timestamp(rfc3339: $0) })
        else { return nil }
        func int(_ key: String) -> Int { (o[key] as? NSNumber)?.intValue ?? 0 }
        self.init(
            source: src, firstSeen: first, lastSeen: last,
            technique: (o["technique"] as? String).flatMap(ScanTechnique.init(rawValue:)) ?? .mixed,
            shape: (o["shape"] as? String).flatMap(ScanShape.init(rawValue:)) ?? .block,
            probes: int("probes"), distinctPorts: int("distinct_ports"), distinctTargets: int("distinct_targets"),
            ports: (o["ports"] as? [NSNumber])?.map { UInt16(truncatingIfNeeded: $0.intValue) } ?? [],
            detectedAfter: int("detected_after"), declaredAt: first,
            decidedBy: (o["decided_by"] as? String).flatMap(DecisionPath.init(rawValue:)) ?? .sequentialTest,
            successes: int("successes"), failures: int("failures"),
            end: (o["closed_by"] as? String).flatMap(EpisodeEnd.init(rawValue:)) ?? .endOfInput)
        tool = o["tool"] as? String
        toolConfidence = (o["tool_confidence"] as? NSNumber)?.doubleValue
    }
}
