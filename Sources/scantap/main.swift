// scantap: parse the command line, wire the sensor to standard output, map errors to exit codes.
import ScanReport
import ScanTapSensor
#if canImport(Glibc)
import Glibc
#endif


func fail(_ message: String, status: Int32) -> Never {
    let stderr = FileOutput(descriptor: 2)
    stderr.write("scantap: \(message)\n")
    stderr.flush()
    exit(status)
}

let options: SensorOptions
do {
    options = try SensorOptions(parsing: Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error)", status: 2)
}

switch options.mode {
case .help:
    print(SensorOptions.usage)
    exit(0)
case .version:
    print("scantap \(Sensor.version)")
    exit(0)
case .classify:
    let stdout = FileOutput.standardOutput()
    do {
        try ClassifyCommand.run(options, sink: JSONLinesSink(output: stdout))
    } catch {
        stdout.flush()
        fail(error.description, status: error.exitStatus)
    }
case .dshield:
    do {
        try DShieldCommand.run(options, output: FileOutput.standardOutput())
    } catch {
        fail(error.description, status: error.exitStatus)
    }
case .read, .live:
    let stdout = FileOutput.standardOutput()
    let sink: any EventSink = switch options.format {
    case .json: JSONLinesSink(output: stdout)
    case .table: TableSink(output: stdout)
    }
    do {
        try Sensor(options: options, sink: sink).run()
    } catch {
        stdout.flush()
        fail(error.description, status: error.exitStatus)
    }
}
