import Foundation
import Testing
import WireFormat

@testable import DShieldReport

private let sample = """
    # written by the official installer
    [DShield]
    interface=eth0
    version=100
    email=ops@example.org
    userid=12345
    apikey=VGVzdEtleQ==
    piid=0a1b2c3d4e5f60718293
    honeypotip=203.0.113.10
    nofwlogging=198.51.100.77 198.51.100.0/30
    localips = 192.0.2.5, 2001:db8::5
    adminports=12222
    [scantap]
    policy=all
    ipv6=yes
    submiturl=https://www.dshield.org/devsubmitapi/
    """

@Suite struct DShieldConfigTests {
    @Test func theOfficialKeysThatApplyAreReadAndTheOthersSkipped() throws {
        let config = try DShieldConfig.parse(sample)
        #expect(config.userID == 12345 && config.apiKey == "VGVzdEtleQ==" && config.email == "ops@example.org")
        #expect(config.honeypotAddresses == [IPPrefix("203.0.113.10")!])
        #expect(config.noFirewallLogging.count == 2 && config.localAddresses.count == 2)
        #expect(
            config.policy == .all && config.includeIPv6 == true
                && config.submitURL == "https://www.dshield.org/devsubmitapi/")
        #expect(config.exclusions.excludesSource(IPAddress("198.51.100.2")!))
        #expect(!config.exclusions.excludesSource(IPAddress("198.51.100.4")!))
    }

    @Test func theDescriptionNeverShowsTheAPIKey() throws {
        let config = try DShieldConfig.parse(sample)
        #expect(!config.description.contains("VGVzdEtleQ") && config.description.contains("hidden"))
        #expect(!String(describing: config).contains("VGVzdEtleQ"))
    }

    @Test func aBadValueIsRefusedWithItsLine() {
        #expect(throws: DShieldConfigError(path: "dshield.ini", line: 2, message: "userid must be a number")) {
            try DShieldConfig.parse("[DShield]\nuserid=abc")
        }
        #expect(throws: DShieldConfigError.self) { try DShieldConfig.parse("[DShield]\nnofwlogging=1.2.3.4/33") }
        #expect(throws: DShieldConfigError.self) { try DShieldConfig.parse("[DShield]\napikey=has space") }
        #expect(throws: DShieldConfigError.self) { try DShieldConfig.parse("[DShield]\nemail=ops (night)@example.org") }
    }

    @Test func aMisspelledKeyInTheScantapSectionIsRefusedWithItsNameAndLine() {
        #expect(
            throws: DShieldConfigError(
                path: "dshield.ini", line: 4,
                message: "unknown key 'polcy' in [scantap] (known: submiturl, policy, ipv6, maxage)")
        ) {
            try DShieldConfig.parse("[DShield]\nuserid=1\n[scantap]\npolcy=all")
        }
    }

    @Test func aKeyFileReadableByOthersIsRefusedAndAPrivateOneLoads() throws {
        let path = temporaryDirectory("ini") + "/dshield.ini"
        try sample.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        #expect(throws: DShieldConfigError.self) { try DShieldConfig.load(path: path) }
        chmod(path, 0o640)
        #expect(throws: DShieldConfigError.self) { try DShieldConfig.load(path: path) }
        chmod(path, 0o600)
        #expect(try DShieldConfig.load(path: path).userID == 12345)
    }
}
