import Foundation
import Testing

/// Runs the lab scripts: a network-namespace lab where real `nmap` scans a victim while
/// `scantap live` watches the bridge. Needs root and network namespaces (CI has both); the suite
/// is skipped, and says so, where the lab's own probe cannot make a namespace.
@Suite(.enabled(if: LabCapability.canRun, "the namespace lab needs root and network namespaces"), .serialized)
struct LiveLabTests {
    /// `lab/live-test.sh`: an alert while the scan runs, a scan line and stats after SIGINT, no
    /// benign host reported; strict, so the technique, masscan's label and the JSON shape count.
    @Test(.timeLimit(.minutes(3)))
    func anNmapSYNScanIsAlertedWhileItRunsAndReportedAfterSIGINT() throws {
        try runLabScript("live-test.sh", expecting: "PASS: live-test")
    }

    /// `lab/reload-test.sh`: the sensor keeps running across SIGHUP and labels later episodes
    /// with the edited knowledge file.
    @Test(.timeLimit(.minutes(3)))
    func aLiveSensorPicksUpAnEditedKnowledgeFileOnSIGHUP() throws {
        try runLabScript("reload-test.sh", expecting: "PASS: reload-test")
    }

    /// `lab/dshield-live-test.sh`: live with a dshield.ini spools each record within a second (a
    /// SIGKILL loses none) and submits on its own schedule, through a 429, to a receiver that
    /// checks the HMAC: exactly the unanswered attempts of two nmap scans arrive.
    @Test(.timeLimit(.minutes(2)))
    func liveSubmitsTheUnansweredAttemptsOfAnNmapScanOnItsOwnSchedule() throws {
        try runLabScript("dshield-live-test.sh", expecting: "PASS: dshield-live-test")
    }

    private func runLabScript(_ script: String, expecting pass: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["\(Scantap.root)/lab/\(script)", Scantap.binary]
        // A suffix of our own, so a concurrent lab run elsewhere on the machine cannot clash.
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["ST_LAB_SUFFIX": "-t\(getpid() % 10000)", "ST_LIVE_STRICT": "1"]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // The suite runs only where the lab can, so a script that skips (77) is a failure too.
        #expect(process.terminationStatus == 0, "\(log)")
        #expect(log.contains(pass))
    }
}

/// Whether the lab can run here: root, and a network namespace can be made (a container without
/// CAP_SYS_ADMIN cannot). Asks the lab's own probe, `lab_can_netns` of `lab/netns-lab.sh`.
enum LabCapability {
    static let canRun: Bool = {
        guard getuid() == 0 else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "source \"$1\" && lab_can_netns", "bash", "\(Scantap.root)/lab/netns-lab.sh"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()
}
