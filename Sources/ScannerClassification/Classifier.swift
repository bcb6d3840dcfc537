public import ScanDetection
public import WireFormat

/// What was observed from a source, as far as the classifier needs it: an episode, or the same
/// facts from another sensor.
public struct Observation: Sendable {
    /// The scanning tool from packet fingerprints (`mirai`, `nmap`, …), if one was recognised.
    public var tool: String?
    /// Share of the first probes whose headers matched the tool.
    public var toolConfidence: Double?
    /// A sample of the destination ports probed.
    public var ports: [UInt16]
    /// Distinct destination ports probed (an estimate is fine); at least `ports.count`.
    public var distinctPorts: Int
    /// Hosts the source went back to with payload after probing them.
    public var payloadHosts = 0

    public init(tool: String? = nil, toolConfidence: Double? = nil, ports: [UInt16] = [], distinctPorts: Int? = nil) {
        self.tool = tool
        self.toolConfidence = toolConfidence
        self.ports = ports
        self.distinctPorts = max(distinctPorts ?? ports.count, ports.count)
    }

    public init(_ episode: Episode) {
        self.init(
            tool: episode.tool, toolConfidence: episode.toolConfidence, ports: episode.ports,
            distinctPorts: episode.distinctPorts)
        payloadHosts = episode.payloadHosts
    }
}

/// The classifier's full answer: `Classification` plus how sure it is.
public struct ClassificationResult: Sendable, Equatable {
    public var verdict: Verdict
    /// The research organisation the source belongs to, also when it misbehaves or is demoted.
    public var organization: String?
    /// Short, specific reasons, reputation first, then behaviour.
    public var evidence: [String]
    /// Confidence in the verdict, 0…1; 0 for `unknown`, which claims nothing.
    public var confidence: Double

    /// The part every episode carries.
    public var classification: Classification {
        Classification(verdict: verdict, organization: organization, evidence: evidence, confidence: confidence)
    }
}

/// A setting names something the classifier does not know.
public struct ClassifierSetupError: Error, Equatable, CustomStringConvertible {
    public let message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The shared research-scanner classifier: reputation from the knowledge base, the operator's
/// lists and the ISC feed; behaviour from the observation; behaviour beats reputation.
///
/// Immutable once built, so one value can be shared by every thread; rebuild it to reload.
public struct Classifier: EpisodeClassifier {
    /// Where an address is listed as a research organisation's, and how firmly.
    struct Attribution: Sendable {
        let organization: String
        let confidence: Double
        /// Which block matched and where it comes from.
        let evidence: String
    }

    private let allowed: AddressRangeTable<Attribution>
    private let research: AddressRangeTable<Attribution>
    private let denied: AddressRangeTable<String>
    private let names: PTRMatcher
    /// Knowledge-base `asn` rows by AS number, and the operator's database to apply them.
    private let systems: [UInt32: Attribution]
    private let asnDatabase: ASNDatabase?
    private let unclearOrganizations: Set<String>
    private let configuration: ClassifierConfiguration

    /// Builds a classifier.
    ///
    /// - Parameters:
    ///   - knowledge: the research-scanner knowledge base (the shipped file, perhaps with more).
    ///   - allowLists: the operator's allow lists; an entry's label names the organisation.
    ///   - denyLists: the operator's deny lists.
    ///   - iscFeed: a saved copy of the ISC research feed; its types are mapped to
    ///     organisations by the knowledge base's `isc-type` rows.
    ///   - asnDatabase: an IP-to-ASN database; without one the knowledge base's `asn` rows are
    ///     skipped.
    /// - Throws: `ClassifierSetupError` when a demoted or dropped organisation is not in the
    ///   knowledge base (a typo would otherwise silently keep it).
    public init(
        knowledge: KnowledgeBase, allowLists: [AddressList] = [], denyLists: [AddressList] = [],
        iscFeed: ISCResearchFeed? = nil, asnDatabase: ASNDatabase? = nil,
        configuration: ClassifierConfiguration = ClassifierConfiguration()
    ) throws(ClassifierSetupError) {
        let known = knowledge.organizations
        for name in configuration.demotedOrganizations.union(configuration.droppedOrganizations).sorted()
        where !known.contains(name) {
            throw ClassifierSetupError(message: "no organisation named \"\(name)\" in the knowledge base")
        }
        self.configuration = configuration
        let rows = knowledge.rows.filter { !configuration.droppedOrganizations.contains($0.organization) }
        unclearOrganizations = Set(rows.filter { $0.status == .unclear }.map(\.organization))

        func confidence(_ row: KnowledgeRow) -> Double { configuration.researchConfidence[row.confidence] ?? 0 }
        var blocks: [(IPPrefix, Attribution)] = rows.compactMap { row in
            guard case .block(let prefix) = row.fact else { return nil }
            return (
                prefix,
                Attribution(
                    organization: row.organization, confidence: confidence(row),
                    evidence: "range \(prefix) of \(row.organization) (\(row.place), \(row.confidence))")
            )
        }
        if let iscFeed {
            var typeRows: [String: KnowledgeRow] = [:]
            for row in knowledge.rows {
                if case .iscType(let type) = row.fact, typeRows[type] == nil { typeRows[type] = row }
            }
            for entry in iscFeed.entries {
                let row = typeRows[entry.type]
                if let row, configuration.droppedOrganizations.contains(row.organization) { continue }
                let lastSeen = entry.lastSeen.map { ", last seen \($0)" } ?? ""
                blocks.append(
                    (
                        IPPrefix(network: entry.address, length: entry.address.familyBitWidth),
                        Attribution(
                            organization: row?.organization ?? "ISC research feed type \(entry.type)",
                            confidence: row.map(confidence) ?? configuration.researchConfidence[.medium] ?? 0,
                            evidence: "in the ISC research feed as \(entry.type) "
                                + "(\(fileName(iscFeed.file)):\(entry.line)\(lastSeen))")
                    ))
            }
        }
        research = AddressRangeTable(blocks)
        allowed = AddressRangeTable(
            allowLists.flatMap(\.entries).map { entry in
                let organization = entry.label ?? "allow list"
                return (
                    entry.prefix,
                    Attribution(
                        organization: organization, confidence: configuration.allowListConfidence,
                        evidence: "in the allow list as \(organization) "
                            + "(\(entry.prefix), \(fileName(entry.file)):\(entry.line))")
                )
            })
        denied = AddressRangeTable(
            denyLists.flatMap(\.entries).map {
                ($0.prefix, "in the deny list (\($0.prefix), \(fileName($0.file)):\($0.line))")
            })
        names = PTRMatcher(rows: rows)
        self.asnDatabase = asnDatabase
        var systems: [UInt32: Attribution] = [:]
        for row in rows {
            guard case .autonomousSystem(let number) = row.fact, systems[number] == nil else { continue }
            systems[number] = Attribution(
                organization: row.organization, confidence: confidence(row),
                evidence: "AS\(number) of \(row.organization) (\(row.place), \(row.confidence))")
        }
        self.systems = systems
    }

    /// The organisation an address is listed under (allow lists first, then the knowledge base
    /// and the ISC feed), without the verdict logic: the lookup the benchmark times.
    public func listedOrganization(of address: IPAddress) -> String? {
        (allowed.lookup(address) ?? research.lookup(address))?.organization
    }

    /// Address blocks loaded (knowledge base and ISC feed, allow and deny lists) and the bytes
    /// of their search arrays.
    public var loadedBlocks: (count: Int, searchBytes: Int) {
        (
            research.count + allowed.count + denied.count,
            research.searchBytes + allowed.searchBytes + denied.searchBytes
        )
    }

    public func classify(_ episode: Episode) -> Classification {
        classify(episode, ptr: nil).classification
    }

    /// Classifies an episode; `ptr` is the source's reverse-DNS name when the caller looked it up.
    public func classify(_ episode: Episode, ptr: ConfirmedPTR?) -> ClassificationResult {
        classify(address: episode.source, observed: Observation(episode), ptr: ptr)
    }

    /// Classifies a source address from what was observed of it.
    public func classify(address: IPAddress, observed: Observation, ptr: ConfirmedPTR? = nil) -> ClassificationResult {
        var evidence: [String] = []
        var attribution = allowed.lookup(address) ?? research.lookup(address) ?? system(of: address)
        if let attribution { evidence.append(attribution.evidence) }
        if let ptr, let rule = names.match(ptr.name) {
            let organization = rule.row.organization
            let name = PTRMatcher.normalize(ptr.name)
            let match = "PTR \(name) matches \(organization) (\(rule.text), \(rule.row.place))"
            if !ptr.forwardConfirmed {
                evidence.append(
                    "\(match) but does not forward-confirm: not used, as the address holder can set any PTR")
            } else if let listed = attribution, listed.organization != organization {
                evidence.append("forward-confirmed \(match), but the address is listed as \(listed.organization)'s")
            } else {
                let ptrConfidence = configuration.researchConfidence[rule.row.confidence] ?? 0
                let combined = attribution.map { max($0.confidence, ptrConfidence) + configuration.agreementBonus }
                attribution = Attribution(
                    organization: organization,
                    confidence: min(combined ?? ptrConfidence, configuration.maximumConfidence),
                    evidence: "")
                evidence.append("forward-confirmed \(match)")
            }
        }

        var malicious: [Double] = []
        if let denial = denied.lookup(address) {
            evidence.append(denial)
            malicious.append(configuration.denyListConfidence)
        }
        if observed.tool == "mirai" {
            let share = observed.toolConfidence.map { " in \(Int(($0 * 100).rounded())) % of the first probes" } ?? ""
            evidence.append("Mirai fingerprint: TCP sequence number equals the target address\(share)")
            malicious.append(configuration.miraiConfidence)
        }
        if observed.payloadHosts >= configuration.payloadHostsAfterScan {
            evidence.append(
                "payload sent to \(observed.payloadHosts) hosts after probing them: logins or exploits follow the scan")
            malicious.append(configuration.payloadAfterScanConfidence)
        }
        if let aimed = exploitedServices(observed) {
            if attribution != nil && !configuration.exploitedPortsOverrideResearch {
                evidence.append(
                    "\(aimed); not held against a listed research organisation, as exposure surveys sweep these ports")
            } else {
                evidence.append(aimed)
                malicious.append(configuration.exploitedPortsConfidence)
            }
        }

        let organization = attribution?.organization
        if let strongest = malicious.max() {
            if let organization {
                evidence.append("behaviour overrides the research listing of \(organization)")
            }
            return ClassificationResult(
                verdict: .malicious, organization: organization, evidence: evidence,
                confidence: min(strongest, configuration.maximumConfidence))
        }
        guard let attribution, let organization else {
            return ClassificationResult(verdict: .unknown, organization: nil, evidence: evidence, confidence: 0)
        }
        if configuration.demotedOrganizations.contains(organization) {
            evidence.append("\(organization) is demoted by configuration: not called research")
            return ClassificationResult(
                verdict: .unknown, organization: organization, evidence: evidence, confidence: 0)
        }
        var confidence = attribution.confidence
        if unclearOrganizations.contains(organization) {
            evidence.append("\(organization)'s identity or ethics are unclear (knowledge base status unclear)")
            confidence = min(confidence, configuration.unclearOrganizationConfidenceCap)
        }
        return ClassificationResult(
            verdict: .research, organization: organization, evidence: evidence, confidence: confidence)
    }

    /// The research organisation whose autonomous system announces `address`, when an
    /// IP-to-ASN database was given; the evidence names the database row too.
    private func system(of address: IPAddress) -> Attribution? {
        guard let asnDatabase, let entry = asnDatabase.entry(for: address), let listed = systems[entry.autonomousSystem]
        else { return nil }
        return Attribution(
            organization: listed.organization, confidence: listed.confidence,
            evidence: "announced by \(listed.evidence), per \(fileName(asnDatabase.file)):\(entry.line)")
    }

    /// The evidence line when the scan touched only a few ports, all of commonly exploited
    /// services; nil otherwise.
    private func exploitedServices(_ observed: Observation) -> String? {
        guard !observed.ports.isEmpty, observed.distinctPorts <= configuration.exploitedPortScanLimit else {
            return nil
        }
        var services: [String] = []
        for port in observed.ports {
            guard let service = configuration.exploitedPorts[port] else { return nil }
            services.append("\(port)/\(service.name)")
        }
        return "scan aimed only at commonly exploited services: \(services.joined(separator: ", "))"
    }
}

extension KnowledgeRow {
    /// `file:line` with the file's last path component, for evidence.
    var place: String { "\(fileName(file)):\(line)" }
}

/// The last path component: evidence stays short, and the directory is the operator's own.
func fileName(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}
