import PacketCapture
import Testing
import WireFormat

@Suite struct NetworkInterfaceTests {
    @Test func theLoopbackDeviceIsListedWithItsAddressAndNetmask() throws {
        let loopback = try #require(try NetworkInterface.all().first { $0.name == "lo" })
        let v4 = try #require(loopback.addresses.first { $0.address.isIPv4 })
        #expect(v4 == InterfaceAddress(address: IPAddress("127.0.0.1")!, prefixLength: 8))
        #expect(!v4.isLinkLocal)
        // IPv6 may be disabled on the machine; when it is not, loopback holds ::1/128 alone.
        for v6 in loopback.addresses where !v6.address.isIPv4 {
            #expect(v6 == InterfaceAddress(address: IPAddress("::1")!, prefixLength: 128))
        }
    }

    @Test func linkLocalAddressesOfBothFamiliesAreRecognised() {
        #expect(InterfaceAddress(address: IPAddress("fe80::1")!, prefixLength: 64).isLinkLocal)
        #expect(InterfaceAddress(address: IPAddress("febf::1")!, prefixLength: 64).isLinkLocal)
        #expect(!InterfaceAddress(address: IPAddress("fec0::1")!, prefixLength: 64).isLinkLocal)
        #expect(InterfaceAddress(address: IPAddress("169.254.3.4")!, prefixLength: 16).isLinkLocal)
        #expect(!InterfaceAddress(address: IPAddress("198.18.0.2")!, prefixLength: 24).isLinkLocal)
    }
}
