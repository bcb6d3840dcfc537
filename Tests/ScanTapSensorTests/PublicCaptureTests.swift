import Foundation
import Testing

/// The public captures in `../shared/eval-public` (made by other people, with ground truth).
/// They are a check, not a target: nothing in the sensor knows their names.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: Scantap.evalPublic), "no ../shared/eval-public here"))
struct PublicCaptureTests {
    static let scans: [(file: String, scanner: String, technique: String)] = [
        ("nmap-sS-1000-evilfingers.pcap", "192.168.1.10", "syn"),
        ("nmap-sT-1000-evilfingers.pcap", "192.168.1.10", "connect"),
        ("nmap-sS-10000-sgr.pcapng", "192.168.1.7", "syn"),
        ("masscan-tcp-1001-esnet.pcap", "172.31.15.102", "syn"),
        ("masscan-tcp-600-sr.pcap", "192.168.37.135", "syn"),
        ("zmap-80-sr.pcap", "192.168.37.132", "syn"),
        ("nmap-sF-1000-evilfingers.pcap", "192.168.1.10", "fin"),
        ("nmap-sN-1000-evilfingers.pcap", "192.168.1.10", "null"),
        ("nmap-sX-1000-evilfingers.pcap", "192.168.1.10", "xmas"),
        ("nmap-sU-1000-evilfingers.pcap", "192.168.1.10", "udp"),
        ("nmap-sA-1000-evilfingers.pcap", "192.168.1.10", "ack"),
        // One-way captures: only the scanner's side, no answers at all.
        ("masscan-udp-1001-esnet.pcap", "172.31.15.102", "udp"),
        ("ppa-portscan.pcap", "10.100.25.14", "syn"),
        ("bss-port-scan.pcap", "192.168.2.154", "connect"),
    ]

    static let scanFree = [
        "backscatter-bss.pcap", "synflood-spoofed-stopddos.pcap", "http-browsing-sgr.pcapng", "doh-sgr.pcap",
        "dns-dga-sgr.pcapng", "nfpuzzle3-appletv.pcap", "nmap-p80-A-esnet.pcap",
        // Hard negatives of the detection issue: peers contacted across the Internet, a
        // reconnect storm to one port.
        "gnutella-ppa.pcap", "skype-irc-wireshark.pcap", "nfpuzzle6-aurora.pcap",
    ]

    @Test(arguments: scans)
    func theTruthFilesScannerIsReportedWithItsTechnique(file: String, scanner: String, technique: String) throws {
        let truth =
            try JSONSerialization.jsonObject(
                with: Data(
                    contentsOf: URL(
                        fileURLWithPath: "\(Scantap.evalPublic)/\(file.split(separator: ".")[0]).truth.json")))
            as? [String: Any]
        let listed = (truth?["scanners"] as? [[String: Any]])?.compactMap { $0["src"] as? String }
        #expect(listed == [scanner])
        let result = try Scantap.run(["read", "--format", "json", "\(Scantap.evalPublic)/\(file)"])
        #expect(result.status == 0, "\(result.stderr)")
        let scans = result.events("scan")
        #expect(scans.map { $0["src"] as? String } == [scanner])
        #expect(scans.first?["technique"] as? String == technique)
    }

    static let tools: [(file: String, tool: String?)] = [
        ("nmap-sS-1000-evilfingers.pcap", "nmap"), ("nmap-sS-10000-sgr.pcapng", "nmap"),
        ("nmap-sF-1000-evilfingers.pcap", "nmap"), ("nmap-sT-1000-evilfingers.pcap", nil),
        ("masscan-tcp-1001-esnet.pcap", "masscan"), ("masscan-tcp-600-sr.pcap", "masscan"),
        ("zmap-80-sr.pcap", "zmap"), ("nmap-sA-1000-evilfingers.pcap", "nmap"),
        ("nmap-sU-1000-evilfingers.pcap", "nmap"), ("masscan-udp-1001-esnet.pcap", "masscan"),
    ]

    /// Slow scans with no answers in the capture: a Windows worm's SYNs on 445 retransmitted
    /// every few seconds over two hours, and a raw scanner refused by a darknet router whose
    /// ICMP errors quote addresses the anonymiser did not rewrite.
    static let slowScans: [(file: String, scanner: String)] = [
        ("bss-445-scan.pcap", "176.192.150.3"), ("bss-multiport-scan.pcap", "125.27.226.209"),
    ]

    @Test(arguments: slowScans)
    func aSlowScanWithoutAnswersIsFound(file: String, scanner: String) throws {
        let result = try Scantap.run(["read", "--format", "json", "\(Scantap.evalPublic)/\(file)"])
        #expect(result.events("scan").map { $0["src"] as? String } == [scanner])
    }

    @Test(arguments: tools)
    func theScanningToolIsRecognisedOrLeftUnnamed(file: String, tool: String?) throws {
        let result = try Scantap.run(["read", "--format", "json", "\(Scantap.evalPublic)/\(file)"])
        let scan = try #require(result.events("scan").first)
        #expect(scan["tool"] as? String == tool)
    }

    @Test(arguments: scanFree)
    func aScanFreeCaptureReportsNoEpisode(file: String) throws {
        let result = try Scantap.run(["read", "--format", "json", "\(Scantap.evalPublic)/\(file)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.events("scan").isEmpty && result.events("alert").isEmpty, "\(result.stdout)")
        #expect(result.events("stats").first?["episodes"] as? Int == 0)
    }
}
