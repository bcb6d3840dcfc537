import Foundation
import ReverseDNS
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
        // With --resolve, every lookup is started first and waited for once: this is no capture
        // path, and an answer is worth the wait here.
        let resolver = try ClassifierSetup.resolver(classificationOptions)
        func resolve(_ sources: [IPAddress]) {
            guard let resolver else { return }
            for source in sources { _ = resolver.request(source) }
            _ = resolver.waitUntilIdle(timeout: lookupWait(resolver.configuration))
        }
        func ptr(_ address: IPAddress) -> ConfirmedPTR? { resolver?.cached(address)?.ptr }

        resolve(addresses)
        for address in addresses {
            sink.verdict(
                for: address,
                classifier.classify(address: address, observed: Observation(), ptr: ptr(address)).classification)
        }
        guard let episodes else { return }
        let text: String
        if episodes == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            do throws(KnowledgeFileError) {
                text = try TextFile.read(episodes)
            } catch {
                throw SensorError.runtime(error.description)
            }
        }
        // Parsed in full first, so that --resolve can ask for every source at once; a bad line
        // still lets the lines before it out, looked up, before the error.
        var lines: [(text: Substring, episode: Episode?)] = []
        func writeLines() {
            resolve(lines.compactMap { $0.episode?.source })
            for (text, episode) in lines { write(text, episode, to: sink, classifier, ptr) }
            sink.flush()
        }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy(\.isWhitespace) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                writeLines()
                throw SensorError.runtime("\(episodes):\(index + 1): not a JSON object")
            }
            switch object["event"] as? String {
            case "scan":
                guard let episode = Episode(scanLine: object) else {
                    writeLines()
                    throw SensorError.runtime(
                        "\(episodes):\(index + 1): a scan line without a valid src, first_seen or last_seen")
                }
                lines.append((line, episode))
            case "summary": continue  // counted under the old verdicts: stale once relabelled
            default: lines.append((line, nil))  // alerts and stats pass through untouched
            }
        }
        writeLines()
    }
}

/// How long `classify --resolve` waits for its lookups: every try of the PTR query and then of
/// the forward check, c-ares doubling the timeout each round (2 + 4 s each by default), and a
/// second's margin.
private func lookupWait(_ configuration: ResolverConfiguration) -> Duration {
    configuration.queryTimeout * ((1 << configuration.attempts) - 1) * 2 + .seconds(1)
}

/// One line of `classify --episodes` output: a relabelled scan line, or a line passed through.
private func write(
    _ text: Substring, _ episode: Episode?, to sink: JSONLinesSink, _ classifier: Classifier,
    _ ptr: (IPAddress) -> ConfirmedPTR?
) {
    guard var episode else {
        sink.passThrough(String(text))
        return
    }
    episode.classification = classifier.classify(episode, ptr: ptr(episode.source)).classification
    sink.episode(episode)
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
        payloadHosts = int("payload_hosts")
    }
}
