import ReverseDNS
import ScanDetection
import ScannerClassification

/// Builds the shared classifier from the sensor's options and the shipped knowledge base.
enum ClassifierSetup {
    /// The knowledge base that ships with ScanTap, found like the `bpf/` folder
    /// (`$SCANTAP_KNOWLEDGE_DIR`, then `knowledge/` beside or above the executable, then the
    /// installed share folders).
    static let shippedKnowledge = "research-scanners.tsv"

    /// The PTR resolver for `--resolve`, or nil.
    ///
    /// - Throws: `SensorError.runtime` when c-ares cannot start. (`--resolver` was checked when
    ///   the options were parsed.)
    static func resolver(_ options: SensorOptions.ClassificationOptions) throws(SensorError) -> Resolver? {
        guard options.enabled && options.resolve else { return nil }
        do throws(ResolverError) {
            return try Resolver(configuration: ResolverConfiguration(server: options.resolver.flatMap(DNSServer.init)))
        } catch {
            throw SensorError.runtime("--resolve: \(error)")
        }
    }

    /// The classifier, or nil when classification is off.
    ///
    /// - Throws: `SensorError.runtime` for a file that is missing or malformed (naming it and the
    ///   line), `SensorError.usage` for `--demote`/`--drop` of an organisation nobody lists.
    static func build(_ options: SensorOptions.ClassificationOptions) throws(SensorError) -> Classifier? {
        guard options.enabled else { return nil }
        let directories = DataFiles.directories(named: "knowledge", override: "SCANTAP_KNOWLEDGE_DIR")
        guard let shipped = DataFiles.find(shippedKnowledge, in: directories) else {
            throw SensorError.runtime(
                "cannot find the knowledge base \(shippedKnowledge) (looked in \(directories.joined(separator: ", "))); "
                    + "set SCANTAP_KNOWLEDGE_DIR or pass --no-classify")
        }
        var configuration = ClassifierConfiguration()
        configuration.demotedOrganizations = options.demoted
        configuration.droppedOrganizations = options.dropped
        let knowledge: KnowledgeBase
        let allowLists: [AddressList]
        let denyLists: [AddressList]
        let iscFeed: ISCResearchFeed?
        let asnDatabase: ASNDatabase?
        do throws(KnowledgeFileError) {
            var merged = try KnowledgeBase.load(path: shipped)
            for path in options.knowledgeFiles { merged = merged.merged(with: try KnowledgeBase.load(path: path)) }
            knowledge = merged
            allowLists = try options.allowLists.map { (path) throws(KnowledgeFileError) in
                try AddressList.load(path: path)
            }
            denyLists = try options.denyLists.map { (path) throws(KnowledgeFileError) in
                try AddressList.load(path: path)
            }
            iscFeed = try options.iscFeed.map { (path) throws(KnowledgeFileError) in
                try ISCResearchFeed.load(path: path)
            }
            asnDatabase = try options.asnDatabase.map { (path) throws(KnowledgeFileError) in
                try ASNDatabase.load(path: path)
            }
        } catch {
            throw SensorError.runtime(error.description)
        }
        do throws(ClassifierSetupError) {
            return try Classifier(
                knowledge: knowledge, allowLists: allowLists, denyLists: denyLists, iscFeed: iscFeed,
                asnDatabase: asnDatabase, configuration: configuration)
        } catch {
            throw SensorError.usage(error.description)
        }
    }
}
