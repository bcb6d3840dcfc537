// scantap: parse the command line, wire the sensor to standard output, map errors to exit codes.
import ScanReport
import ScanTapSensor

#if canImport(Glibc)
    import Glibc
#endif

let stdout = FileOutput.standardOutput()

/// Ends the run: whatever was computed is pushed out first; a failure, or results that could not
/// be written (a full disk), is one line on standard error and a non-zero status.
@MainActor func exit(failure: (message: String, status: Int32)?) -> Never {
    stdout.flush()
    let stderr = FileOutput(descriptor: 2)
    if let failure { stderr.write("scantap: \(failure.message)\n") }
    if let lost = stdout.failure { stderr.write("scantap: standard output: \(lost)\n") }
    stderr.flush()
    exit(failure?.status ?? (stdout.failure == nil ? 0 : 1))
}

let options: SensorOptions
do {
    options = try SensorOptions(parsing: Array(CommandLine.arguments.dropFirst()))
} catch {
    exit(failure: ("\(error)", 2))
}

do throws(SensorError) {
    switch options.mode {
    case .help:
        stdout.write(SensorOptions.usage + "\n")
    case .version:
        stdout.write("scantap \(Sensor.version)\n")
    case .classify:
        try ClassifyCommand.run(options, sink: JSONLinesSink(output: stdout))
    case .dshield:
        try DShieldCommand.run(options, output: stdout)
    case .read, .live:
        let sink: any EventSink =
            switch options.format {
            case .json: JSONLinesSink(output: stdout)
            case .table: TableSink(output: stdout)
            }
        try Sensor(options: options, sink: sink).run()
    }
    exit(failure: nil)
} catch {
    exit(failure: (error.description, error.exitStatus))
}
