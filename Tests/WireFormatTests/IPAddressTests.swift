import Testing
import WireFormat

@Suite struct IPAddressTests {
    @Test func ipv4TextRoundTrips() {
        let a = IPAddress("198.18.0.1")
        #expect(a?.isIPv4 == true)
        #expect(a?.ipv4Value == 0xC612_0001)
        #expect(a?.description == "198.18.0.1")
    }

    @Test func ipv6TextIsPrintedInRFC5952Form() {
        #expect(IPAddress("2001:0db8:0000:0000:0000:0000:0000:0001")?.description == "2001:db8::1")
        #expect(IPAddress("2001:db8:0:1:0:0:0:0")?.description == "2001:db8:0:1::")
        #expect(IPAddress("2001:db8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1")
        #expect(IPAddress("::")?.description == "::")
        #expect(IPAddress("fe80::1")?.isIPv4 == false)
    }

    @Test func malformedAddressesAreRejected() {
        for text in ["", "1.2.3", "1.2.3.256", "1.2.3.4.5", "1::2::3", "12345::", "::g", "a.b.c.d"] {
            #expect(IPAddress(text) == nil, "\(text)")
        }
    }

    @Test func prefixesContainExactlyTheirRange() throws {
        let p = try #require(IPPrefix("198.18.0.0/15"))
        #expect(p.contains(IPAddress("198.18.0.0")!))
        #expect(p.contains(IPAddress("198.19.255.255")!))
        #expect(!p.contains(IPAddress("198.20.0.0")!))
        #expect(!p.contains(IPAddress("198.17.255.255")!))
        let v6 = try #require(IPPrefix("2001:db8::/32"))
        #expect(v6.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(!v6.contains(IPAddress("2001:db9::")!))
        #expect(IPPrefix("10.0.0.0/33") == nil)
        #expect(IPPrefix("0.0.0.0/0")!.contains(IPAddress("255.255.255.255")!))
        #expect(!IPPrefix("0.0.0.0/0")!.contains(IPAddress("::1")!))
    }
}
