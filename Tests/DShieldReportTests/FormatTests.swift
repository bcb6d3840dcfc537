import DShieldReport
import Testing
import WireFormat

/// 2026-03-01 14:05:09 UTC, the reference's example time (§1.5, §2.6).
let exampleTime: Int64 = 1_772_373_909

func record(
    _ source: String, _ sport: UInt16, _ dport: UInt16, proto: UInt8, flags: TCPFlags = [], time: Int64 = exampleTime,
    destination: String = "203.0.113.10"
) -> DShieldRecord {
    DShieldRecord(
        time: time, source: IPAddress(source)!, sourcePort: sport, destination: IPAddress(destination)!,
        destinationPort: dport, ipProtocol: proto, tcpFlags: flags)
}

@Suite struct TextFormatTests {
    let format = DShieldTextFormat(userID: 12345, client: "SCANTAP 0.1")

    @Test func theSubjectLineNamesFormatUserTimeZoneAndClient() {
        #expect(format.subjectLine == "FORMAT DSHIELD USERID 12345 TZ +00:00 SCANTAP 0.1")
    }

    @Test func aTCPSynLineHasNineTabSeparatedFieldsInUTC() {
        let line = format.line(record("198.51.100.7", 48211, 23, proto: 6, flags: .syn))
        #expect(line == "2026-03-01 14:05:09 +00:00\t12345\t1\t198.51.100.7\t48211\t203.0.113.10\t23\t6\tS\n")
        #expect(line.dropLast().split(separator: "\t", omittingEmptySubsequences: false).count == 9)
    }

    @Test func aUDPLineEndsWithAnEmptyFlagsField() {
        #expect(
            format.line(record("198.51.100.9", 5060, 5060, proto: 17, time: exampleTime + 1))
                == "2026-03-01 14:05:10 +00:00\t12345\t1\t198.51.100.9\t5060\t203.0.113.10\t5060\t17\t\n")
    }

    @Test func anICMPLineCarriesTypeInTheSourcePortAndCodeInTheTargetPort() {
        #expect(
            format.line(record("198.51.100.10", 8, 0, proto: 1, time: exampleTime + 3))
                == "2026-03-01 14:05:12 +00:00\t12345\t1\t198.51.100.10\t8\t203.0.113.10\t0\t1\t\n")
    }

    @Test func anECNSetupSynWritesCWRAsOneAndECEAsTwo() {
        #expect(
            format.line(record("198.51.100.44", 40000, 443, proto: 6, flags: [.syn, .ece, .cwr])).hasSuffix(
                "\t6\t12S\n"))
        #expect(
            record("1.2.3.4", 1, 2, proto: 6, flags: [.fin, .syn, .rst, .psh, .ack, .urg, .ece, .cwr]).flagLetters
                == "12UAPRSF")
    }

    @Test func ipv6AddressesAreWrittenFullyExpandedInLowerCase() {
        let line = format.line(record("2001:DB8::7", 0, 65535, proto: 6, flags: .syn, destination: "2001:db8:0:1::a"))
        #expect(
            line.contains(
                "\t2001:0db8:0000:0000:0000:0000:0000:0007\t0\t2001:0db8:0000:0001:0000:0000:0000:000a\t65535\t"))
    }

    @Test func aDocumentIsTheSubjectABlankLineAndTheRecords() {
        let doc = format.document([record("198.51.100.7", 63, 64, proto: 6, flags: .syn)])
        #expect(
            doc
                == "FORMAT DSHIELD USERID 12345 TZ +00:00 SCANTAP 0.1\n\n2026-03-01 14:05:09 +00:00\t12345\t1\t198.51.100.7\t63\t203.0.113.10\t64\t6\tS\n"
        )
    }
}

@Suite struct JSONFormatTests {
    @Test func theBodyMatchesTheReferenceExampleFieldByField() throws {
        let auth = try ISCAuthorization(
            userID: 12345, apiKey: "RG9jc0V4YW1wbGVLZXkxNg==", nonce: [0, 1, 2, 3, 4, 5, 6, 7])
        let body = DShieldJSONFormat.body(
            [
                record("198.51.100.7", 48211, 23, proto: 6, flags: .syn),
                record("198.51.100.9", 5060, 5060, proto: 17, time: exampleTime + 1),
                record("198.51.100.10", 8, 0, proto: 1, time: exampleTime + 3),
                record("198.51.100.44", 40000, 443, proto: 6, flags: [.syn, .ece, .cwr], time: exampleTime + 6),
            ], authorization: auth)
        #expect(
            body == """
                {"type": "firewall", "logs": [\
                {"time": 1772373909, "flags": "S", "sip": "198.51.100.7", "dip": "203.0.113.10", "proto": 6, "sport": "48211", "dport": "23", "version": 4}, \
                {"time": 1772373910, "flags": "", "sip": "198.51.100.9", "dip": "203.0.113.10", "proto": 17, "sport": "5060", "dport": "5060", "version": 4}, \
                {"time": 1772373912, "flags": "", "sip": "198.51.100.10", "dip": "203.0.113.10", "proto": 1, "sport": "8", "dport": "0", "version": 4}, \
                {"time": 1772373915, "flags": "12S", "sip": "198.51.100.44", "dip": "203.0.113.10", "proto": 6, "sport": "40000", "dport": "443", "version": 4}\
                ], "authheader": "ISC-HMAC-SHA256 Credentials=CXCOf7AqTKArfln14FXnwlhaNOM/OJ4tCSpIQ2RLRuU= Userid=12345 Nonce=AAECAwQFBgc="}
                """)
    }

    @Test func anIPv6RecordHasVersionSixAndCompressedAddresses() {
        #expect(
            DShieldJSONFormat.record(record("2001:db8::7", 1, 22, proto: 6, flags: .syn, destination: "2001:db8::1"))
                == #"{"time": 1772373909, "flags": "S", "sip": "2001:db8::7", "dip": "2001:db8::1", "proto": 6, "sport": "1", "dport": "22", "version": 6}"#
        )
    }

    @Test func aRecordFromADecodedICMPPacketTakesTypeAndCodeAndTruncatesTime() {
        var packet = DecodedPacket()
        packet.timestamp = Timestamp(nanoseconds: exampleTime * 1_000_000_000 + 999_999_999)
        packet.source = IPAddress("198.51.100.10")!
        packet.destination = IPAddress("203.0.113.10")!
        packet.transport = .icmp
        packet.ipProtocol = 1
        packet.icmpType = 3
        packet.icmpCode = 13
        let r = DShieldRecord(packet: packet)
        #expect(r.time == exampleTime && r.sourcePort == 3 && r.destinationPort == 13 && r.flagLetters == "")
    }
}
