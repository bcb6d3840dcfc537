import ScannerClassification
import Testing
import WireFormat

private func table(_ blocks: [(String, String)]) -> AddressRangeTable<String> {
    AddressRangeTable(blocks.map { (IPPrefix($0.0)!, $0.1) })
}

@Suite struct AddressRangeTableTests {
    @Test func theMostSpecificOfNestedBlocksWinsAndItsContainerResumesAfterIt() {
        let t = table([("10.0.0.0/8", "outer"), ("10.1.0.0/16", "middle"), ("10.1.2.0/24", "inner")])
        #expect(t.lookup(IPAddress("9.255.255.255")!) == nil)
        #expect(t.lookup(IPAddress("10.0.0.0")!) == "outer")
        #expect(t.lookup(IPAddress("10.1.1.255")!) == "middle")
        #expect(t.lookup(IPAddress("10.1.2.0")!) == "inner")
        #expect(t.lookup(IPAddress("10.1.2.255")!) == "inner")
        #expect(t.lookup(IPAddress("10.1.3.0")!) == "middle")
        #expect(t.lookup(IPAddress("10.2.0.0")!) == "outer")
        #expect(t.lookup(IPAddress("10.255.255.255")!) == "outer")
        #expect(t.lookup(IPAddress("11.0.0.0")!) == nil)
    }

    @Test func blocksSharingTheirLastAddressWithTheirContainerCloseTogether() {
        let t = table([("10.0.0.0/8", "outer"), ("10.255.255.0/24", "tail"), ("10.255.255.255/32", "last")])
        #expect(t.lookup(IPAddress("10.255.254.255")!) == "outer")
        #expect(t.lookup(IPAddress("10.255.255.254")!) == "tail")
        #expect(t.lookup(IPAddress("10.255.255.255")!) == "last")
        #expect(t.lookup(IPAddress("11.0.0.0")!) == nil)
    }

    @Test func theEdgesOfTheAddressSpaceAreExact() {
        let t = table([("0.0.0.0/32", "zero"), ("255.255.255.255/32", "broadcast"), ("ffff::/16", "top6")])
        #expect(t.lookup(IPAddress("0.0.0.0")!) == "zero")
        #expect(t.lookup(IPAddress("0.0.0.1")!) == nil)
        #expect(t.lookup(IPAddress("255.255.255.254")!) == nil)
        #expect(t.lookup(IPAddress("255.255.255.255")!) == "broadcast")
        #expect(t.lookup(IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!) == "top6")
        #expect(t.lookup(IPAddress("fffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!) == nil)
    }

    @Test func anIdenticalBlockListedLaterLosesToTheFirst() {
        let t = table([("192.0.2.0/24", "first"), ("192.0.2.0/24", "second")])
        #expect(t.lookup(IPAddress("192.0.2.7")!) == "first")
    }

    @Test func ipv4AndIPv6AreSeparateSpaces() {
        // ::ffff:0:0/96 holds the mapped IPv4 addresses; an IPv6 block must not capture them.
        let t = table([("::/0", "all6")])
        #expect(t.lookup(IPAddress("192.0.2.1")!) == nil)
        #expect(t.lookup(IPAddress("2001:db8::1")!) == "all6")
    }

    @Test func arbitraryRangesAreExactAtBothEnds() {
        let t = AddressRangeTable(ranges: [
            (start: IPAddress(ipv4: 100), end: IPAddress(ipv4: 199), value: "a"),
            (start: IPAddress(ipv4: 150), end: IPAddress(ipv4: 150), value: "b"),
            (start: IPAddress("2001:db8::")!, end: IPAddress("2001:db8::5")!, value: "c"),
        ])
        #expect(t.lookup(IPAddress("2001:db8::5")!) == "c")
        #expect(t.lookup(IPAddress("2001:db8::6")!) == nil)
        #expect(t.lookup(IPAddress(ipv4: 99)) == nil)
        #expect(t.lookup(IPAddress(ipv4: 100)) == "a")
        #expect(t.lookup(IPAddress(ipv4: 150)) == "b")
        #expect(t.lookup(IPAddress(ipv4: 151)) == "a")
        #expect(t.lookup(IPAddress(ipv4: 199)) == "a")
        #expect(t.lookup(IPAddress(ipv4: 200)) == nil)
    }

    @Test func randomBlocksAgreeWithALinearScanForTheMostSpecificMatch() {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            // SplitMix64: a repeatable sequence, so a failure can be replayed.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        // Few distinct top bytes so blocks nest often.
        let prefixes = (0..<400).map { i -> IPPrefix in
            let address = IPAddress(ipv4: UInt32(truncatingIfNeeded: next()) & 0x03FF_FFFF | 0x0A00_0000)
            return IPPrefix(network: address, length: 6 + Int(next() % 27))
        }
        let t = AddressRangeTable(prefixes.enumerated().map { ($1, $0) })
        for _ in 0..<20_000 {
            let address = IPAddress(ipv4: UInt32(truncatingIfNeeded: next()) & 0x03FF_FFFF | 0x0A00_0000)
            let expected = prefixes.enumerated().filter { $1.contains(address) }
                .max {
                    $0.element.length != $1.element.length
                        ? $0.element.length < $1.element.length : $0.offset > $1.offset
                }?
                .offset
            #expect(t.lookup(address) == expected)
        }
    }
}
