import DShieldReport
import Foundation
import ScanDetection
import WireFormat

/// The DShield records of a `read`: a flow table fed from the detector's thread; when the input
/// ends, the records go to the requested files and, with a `dshield.ini`, to the spool.
final class DShieldOutput {
    private let options: SensorOptions.DShieldOptions
    private let config: DShieldConfig?
    private let flows: FlowTable
    private var records: [DShieldRecord] = []

    /// - Parameter isScanner: for the `scans` policy, whether the detector has declared a source.
    /// - Throws: `SensorError` for a `dshield.ini` that cannot be used, or no home network.
    init(options: SensorOptions.DShieldOptions, isScanner: @escaping (IPAddress) -> Bool) throws(SensorError) {
        self.options = options
        config = try options.configFile.map { (path) throws(SensorError) in try DShieldCommand.loadConfig(path) }
        // The command line wins over dshield.ini; the sensor's own addresses (honeypotip) are the
        // home network when no other is given, as for the official sensor.
        let home = options.homeNetwork.isEmpty ? config?.honeypotAddresses ?? [] : options.homeNetwork
        guard !home.isEmpty else {
            throw SensorError.usage("DShield output needs --home-net CIDR,... (or honeypotip in the dshield.ini)")
        }
        let policy = options.policyGiven ? ReportPolicy(rawValue: options.policy) ?? .failed : config?.policy ?? .failed
        flows = FlowTable(
            FlowTableConfiguration(
                homeNetwork: home, policy: policy, exclusions: config?.exclusions ?? AddressExclusions(),
                includeIPv6: options.ipv6 || config?.includeIPv6 == true),
            sourceIsScanner: isScanner)
    }

    @inline(__always)
    func process(_ packets: UnsafeBufferPointer<DecodedPacket>) {
        for packet in packets { flows.process(packet, into: &records) }
    }

    /// Decides the flows still held, writes the files (each atomically: a reader never sees
    /// half a file) and appends to the spool (durably, before anything is sent).
    func finish() throws(SensorError) {
        flows.finish(into: &records)
        records.sort { $0.time < $1.time }
        let userID = config?.userID ?? options.userID
        if let path = options.textFile {
            try write(DShieldTextFormat(userID: userID, client: "scantap \(Sensor.version)").document(records), to: path)
        }
        if let path = options.jsonFile {
            try write(DShieldJSONFormat.unsignedBody(records) + "\n", to: path)
        }
        if config != nil {
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
