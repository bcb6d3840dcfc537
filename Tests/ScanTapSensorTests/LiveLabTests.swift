import Foundation
import Testing

/// Runs the lab scripts: a network-namespace lab where real `nmap` scans a victim while
/// `scantap live` watches the bridge. Needs root (CI runs as root); the scripts skip (77)
/// where namespaces cannot be made.
@Suite(.enabled(if: getuid() == 0, "the namespace lab needs root"), .serialized)
struct LiveLabTests {
    /// `lab/live-test.sh`: an alert while the scan runs, a scan line and stats after SIGINT.
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
        process.environment = ProcessInfo.processInfo.environment.merging(["ST_LAB_SUFFIX": "-t\(getpid() % 10000)"]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 77 { return }  // skipped: no namespaces here
        #expect(process.terminationStatus == 0, "\(log)")
        #expect(log.contains(pass))
    }
}
