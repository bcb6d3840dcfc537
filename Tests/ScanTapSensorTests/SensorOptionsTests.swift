import PacketCapture
import ScanDetection
import ScanTapSensor
import Testing
import WireFormat

@Suite struct SensorOptionsTests {
    @Test func readTakesFilesAndOptionsInAnyOrder() throws {
        let o = try SensorOptions(parsing: ["read", "a.pcap", "--format", "json", "b.pcapng", "--filter=syn-only", "-"])
        #expect(o.mode == .read(files: ["a.pcap", "b.pcapng", "-"]))
        #expect(o.format == .json && o.filter == "syn-only")
    }

    @Test func liveTakesSeveralInterfacesAndLiveOptions() throws {
        let o = try SensorOptions(parsing: [
            "live", "-i", "eth1", "-i", "eth2", "-Z", "nobody", "--buffer-size", "33554432", "--snaplen", "256",
            "--no-promiscuous", "--timeout", "50",
        ])
        #expect(o.mode == .live(interfaces: ["eth1", "eth2"]))
        #expect(o.dropToUser == "nobody" && o.live.bufferSize == 33_554_432 && o.live.snapshotLength == 256)
        #expect(!o.live.promiscuous && o.live.timeoutMilliseconds == 50 && !o.live.immediate)
    }

    @Test func detectionTunablesAreParsed() throws {
        let o = try SensorOptions(parsing: [
            "read", "x.pcap", "--max-sources", "1000", "--ipv6-group", "64", "--ignore", "198.18.0.0/15, 2001:db8::1",
            "--idle-gap", "60", "--max-episode", "7200",
        ])
        #expect(o.detector.maxSources == 1000 && o.detector.ipv6GroupPrefixLength == 64)
        #expect(o.detector.ignoredSources == [IPPrefix("198.18.0.0/15")!, IPPrefix("2001:db8::1/128")!])
        #expect(o.detector.idleGap == .seconds(60) && o.detector.maxEpisodeLength == .seconds(7200))
    }

    @Test(arguments: [
        ([], "missing command"), (["scan"], "unknown command 'scan'"), (["read"], "at least one capture file"),
        (["live"], "at least one -i"), (["read", "x.pcap", "--bogus"], "--bogus"),
        (["read", "x.pcap", "--format", "xml"], "xml"),
        (["read", "x.pcap", "--ignore", "10.0.0.0/33"], "10.0.0.0/33"),
        (["read", "x.pcap", "--max-sources"], "--max-sources"),
        (["read", "x.pcap", "-i", "eth0"], "-i"), (["live", "-i", "eth0", "extra"], "extra"),
        (["read", "x.pcap", "--ipv6-group", "7"], "--ipv6-group"),
        (["live", "-i", "eth0", "--dshield-config", "d.ini", "--dshield-text", "x.txt"], "--dshield-text"),
        (["live", "-i", "eth0", "--dshield-config", "d.ini", "--dshield-json", "x.json"], "--dshield-json"),
        (["live", "-i", "eth0", "--submit-interval", "5"], "--dshield-config"),
        (["live", "-i", "eth0", "--dshield-url", "http://127.0.0.1/"], "--dshield-config"),
        (["read", "x.pcap", "--submit-interval", "5"], "--submit-interval"),
        (["live", "-i", "eth0", "--dshield-config", "d.ini", "--submit-interval", "0"], "--submit-interval"),
        (["read", "x.pcap", "--no-classify", "--dshield-exclude", "research"], "--no-classify"),
        (["read", "x.pcap", "--dshield-exclude", "scanners"], "research"),
        (["read", "x.pcap", "--resolver", "1.2.3.4"], "need --resolve"),
        (["read", "x.pcap", "--resolve", "--resolver", "garbage"], "garbage"),
        (["read", "x.pcap", "--resolve", "--no-classify"], "--no-classify"),
        (["classify", "--format", "table", "1.2.3.4"], "--format does not apply to classify"),
        (["classify", "--no-classify", "1.2.3.4"], "--no-classify does not apply to classify"),
        (["dshield", "status", "--home-net", "198.18.0.0/15"], "--home-net does not apply to dshield"),
    ])
    func mistakesAreUsageErrorsThatSayWhat(arguments: [String], names: String) {
        #expect {
            try SensorOptions(parsing: arguments)
        } throws: { error in
            (error as? UsageError)?.description.contains(names) == true
        }
    }

    @Test func liveTakesADShieldConfigWithItsSpoolURLAndSubmissionInterval() throws {
        let o = try SensorOptions(parsing: [
            "live", "-i", "eth0", "--dshield-config", "d.ini", "--spool", "/tmp/s", "--dshield-url",
            "http://127.0.0.1:8080/",
            "--submit-interval", "5", "--dshield-policy", "all",
        ])
        #expect(
            o.dshield.configFile == "d.ini" && o.dshield.spool == "/tmp/s" && o.dshield.url == "http://127.0.0.1:8080/")
        #expect(o.dshield.submitInterval == 5 && o.dshield.policy == "all")
        #expect(
            try SensorOptions(parsing: ["live", "-i", "eth0", "--dshield-config", "d.ini"]).dshield.submitInterval
                == 1800)
    }

    @Test func readRunsNoFilterUnlessAskedAndLiveUsesTheDefault() throws {
        #expect(try SensorOptions(parsing: ["read", "x.pcap"]).filter == nil)
        #expect(try SensorOptions(parsing: ["live", "-i", "lo"]).filter == nil)
    }

    @Test func helpAndVersionNeedNothingElse() throws {
        #expect(try SensorOptions(parsing: ["--help"]).mode == .help)
        #expect(try SensorOptions(parsing: ["read", "--help"]).mode == .help)
        #expect(try SensorOptions(parsing: ["--version"]).mode == .version)
    }
}

@Suite struct FilterLibraryTests {
    @Test func commentLinesAreDroppedAndTheRestJoined() {
        let text = "# what\n  # indented comment\ntcp\n\tor udp\n"
        #expect(FilterLibrary.stripComments(text) == "tcp \tor udp")
    }

    @Test func anExpressionThatIsNotAFilterNameIsUsedAsIs() throws {
        let filter = try FilterLibrary.filter(for: "tcp port 80")
        #expect(filter == FilterLibrary.Filter(expression: "tcp port 80", fromFile: false))
        #expect(filter.expression(forDataLinkType: 1) == "tcp port 80")
    }

    @Test func theDefaultFilterIsFoundByNameAndExtendedToVLANsOnEthernet() throws {
        let filter = try FilterLibrary.filter(for: "default")
        #expect(filter.fromFile && !filter.expression.contains("#"))
        #expect(
            filter.expression(forDataLinkType: 1).hasSuffix(
                "or (vlan and ((\(filter.expression)) or (vlan and (\(filter.expression)))))"))
        #expect(filter.expression(forDataLinkType: 12) == filter.expression)
    }
}
