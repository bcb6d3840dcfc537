import DShieldReport
import Foundation
import ScanDetection
import WireFormat

/// The DShield records of a `read`: a flow table fed from the detector's thread, written to the
/// requested files when the input ends.
final class DShieldOutput {
    private let options: SensorOptions.DShieldOptions
    private let flows: FlowTable
    private var records: [DShieldRecord] = []

    /// - Parameter isScanner: for the `scans` policy, whether the detector has declared a source.
    init(options: SensorOptions.DShieldOptions, isScanner: @escaping (IPAddress) -> Bool) {
        self.options = options
        let policy = ReportPolicy(rawValue: options.policy) ?? .failed
        flows = FlowTable(
            FlowTableConfiguration(homeNetwork: options.homeNetwork, policy: policy, includeIPv6: options.ipv6),
            sourceIsScanner: isScanner)
    }

    @inline(__always)
    func process(_ packets: UnsafeBufferPointer<DecodedPacket>) {
        for packet in packets { flows.process(packet, into: &records) }
    }

    /// Decides the flows still held and writes the files, each atomically (a reader never sees
    /// half a file).
    func finish() throws(SensorError) {
        flows.finish(into: &records)
        records.sort { $0.time < $1.time }
        let client = "scantap \(Sensor.version)"
        if let path = options.textFile {
            try write(DShieldTextFormat(userID: options.userID, client: client).document(records), to: path)
        }
        if let path = options.jsonFile {
            try write(DShieldJSONFormat.unsignedBody(records) + "\n", to: path)
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
