import DShieldReport
import Foundation
import PacketCapture
import ScanDetection
import WireFormat

/// What `read` and `live` settle about DShield before the first packet: the dshield.ini and the
/// flow table's configuration.
struct DShieldSettings: Sendable {
    let config: DShieldConfig?
    let flows: FlowTableConfiguration
    /// `--dshield-exclude research`: whether the classifier labels a source a research scanner
    /// (set by the sensor, which owns the classifier); nil keeps every record.
    var isResearch: (@Sendable (IPAddress) -> Bool)? = nil

    /// Leaves out the records `--dshield-exclude research` drops, and says how many.
    func keepReportable(_ records: inout [DShieldRecord]) {
        guard let isResearch, !records.isEmpty else { return }
        let before = records.count
        records.removeAll { isResearch($0.source) }
        if records.count < before {
            DShieldCommand.log(
                "\(before - records.count) records from research scanners left out (--dshield-exclude research)")
        }
    }

    /// Says how many inbound flows a full flow table reported without tracking, if any.
    func sayUntracked(_ flows: FlowTable) {
        guard flows.untrackedFlows > 0 else { return }
        DShieldCommand.log(
            "the flow table was full (\(flows.configuration.maximumFlows) flows): \(flows.untrackedFlows) inbound flows "
                + "reported without tracking; their retransmissions may have been reported again")
    }

    /// - Parameter interfaces: live's capture interfaces. Their own addresses are the home
    ///   network when neither `--home-net` nor the dshield.ini's `honeypotip` names one.
    /// - Throws: `SensorError` for a `dshield.ini` that cannot be used, or no home network.
    init(options: SensorOptions.DShieldOptions, interfaces: [String] = []) throws(SensorError) {
        config = try options.configFile.map { (path) throws(SensorError) in try DShieldCommand.loadConfig(path) }
        // The command line wins over dshield.ini; the sensor's own addresses (honeypotip) are the
        // home network when no other is given, as for the official sensor.
        var home = options.homeNetwork.isEmpty ? config?.honeypotAddresses ?? [] : options.homeNetwork
        if home.isEmpty && !interfaces.isEmpty {
            home = try Self.ownAddresses(of: interfaces)
            guard !home.isEmpty else {
                throw SensorError.usage(
                    "DShield from live needs a home network: --home-net CIDR,..., honeypotip in the dshield.ini, "
                        + "or an address on a capture interface (\(interfaces.joined(separator: ", ")) has none)")
            }
        }
        guard !home.isEmpty else {
            throw SensorError.usage("DShield output needs --home-net CIDR,... (or honeypotip in the dshield.ini)")
        }
        let policy = options.policyGiven ? ReportPolicy(rawValue: options.policy) ?? .failed : config?.policy ?? .failed
        flows = FlowTableConfiguration(
            homeNetwork: home, policy: policy, exclusions: config?.exclusions ?? AddressExclusions(),
            includeIPv6: options.ipv6 || config?.includeIPv6 == true)
    }

    /// The interfaces' own addresses, each as a host prefix; link-local ones are left out.
    ///
    /// The addresses, not their subnets: like `honeypotip`, they say what the sensor itself is.
    /// A promiscuous interface can see a neighbour's traffic, and a neighbour on a shared subnet
    /// (a hosting provider's) is not the operator's to report for.
    static func ownAddresses(of interfaces: [String]) throws(SensorError) -> [IPPrefix] {
        let devices: [NetworkInterface]
        do throws(CaptureError) {
            devices = try NetworkInterface.all()
        } catch {
            throw SensorError(error)
        }
        return devices.filter { interfaces.contains($0.name) }.flatMap(\.addresses).filter { !$0.isLinkLocal }
            .map { IPPrefix(network: $0.address, length: $0.address.familyBitWidth) }
    }
}

/// The DShield records of a `read`: a flow table fed from the detector's thread; when the input
/// ends, the records go to the requested files and, with a `dshield.ini`, to the spool.
final class DShieldOutput {
    private let options: SensorOptions.DShieldOptions
    private let settings: DShieldSettings
    private let flows: FlowTable
    private var records: [DShieldRecord] = []

    /// - Parameter isScanner: for the `scans` policy, whether the detector has declared a source.
    init(options: SensorOptions.DShieldOptions, settings: DShieldSettings, isScanner: @escaping (IPAddress) -> Bool) {
        self.options = options
        self.settings = settings
        flows = FlowTable(settings.flows, sourceIsScanner: isScanner)
    }

    @inline(__always)
    func process(_ packets: UnsafeBufferPointer<DecodedPacket>) {
        for packet in packets { flows.process(packet, into: &records) }
    }

    /// Decides the flows still held, writes the files (each atomically: a reader never sees
    /// half a file) and appends to the spool (durably, before anything is sent).
    func finish() throws(SensorError) {
        flows.finish(into: &records)
        settings.sayUntracked(flows)
        settings.keepReportable(&records)
        records.sort { $0.time < $1.time }
        let userID = settings.config?.userID ?? options.userID
        if let path = options.textFile {
            try write(
                DShieldTextFormat(userID: userID, client: "scantap \(Sensor.version)").document(records), to: path)
        }
        if let path = options.jsonFile {
            try write(DShieldJSONFormat.unsignedBody(records) + "\n", to: path)
        }
        if settings.config != nil {
            do throws(SpoolError) {
                let spool = try Spool(directory: options.spool, log: DShieldCommand.log)
                try spool.append(records)
                try spool.seal()
            } catch {
                throw SensorError.runtime(error.description)
            }
        }
    }

    private func write(_ text: String, to path: String) throws(SensorError) {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw SensorError.runtime("\(path): cannot write the DShield records: \(error.localizedDescription)")
        }
    }
}
