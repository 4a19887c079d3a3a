import GPUMonCore
import GPUMonTestSupport
import Testing

@Suite struct HookInputTests {
    @Test func realXMLHasNoHostdevsDespitePCIAddressesOnControllers() throws {
        for phase in ["prepare-begin", "start-begin", "started-begin", "stopped-end", "release-end"] {
            let xml = try LibvirtFixtures.text("hook-stdin-\(phase).xml")
            #expect(xml.contains("<address type='pci' domain='0x0000' bus='0x01'"))
            #expect(DomainXMLScanner.pciHostdevAddresses(in: xml).isEmpty, "\(phase)")
        }
    }

    @Test func hostdevsAddedToTheRealXMLAreFound() throws {
        let xml = LibvirtFixtures.xml(try LibvirtFixtures.text("hook-stdin-stopped-end.xml"), adding: [
            LibvirtFixtures.hostdevXML(bus: "0x01", function: "0x0"),
            LibvirtFixtures.hostdevXML(bus: "0x01", function: "0x1", managed: "no"),
        ])
        #expect(DomainXMLScanner.pciHostdevAddresses(in: xml).map(\.description) == ["0000:01:00.0", "0000:01:00.1"])
    }

    @Test func tolerantScanning() {
        let xml = """
            <domain type="kvm"><devices>
            <!-- <hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x09' slot='0x00' function='0x0'/></source></hostdev> -->
            <hostdev type="pci"
                     managed="no" mode="subsystem">
              <source>
                <address
                   function = "0x1" slot='0x00'   bus="0x41" domain="0x0000" />
              </source>
            </hostdev>
            <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><address bus='1' device='2'/></source></hostdev>
            <hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>
            <interface type='network'><address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></interface>
            <hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/><source><address bus='0x21' slot='0x1f' function='0x7'/></source><rom bar='off'/></hostdev>
            <description><![CDATA[<hostdev mode='subsystem' type='pci'><source><address bus='0x77' slot='0x00' function='0x0'/></source></hostdev>]]></description>
            </devices></domain>
            """
        #expect(DomainXMLScanner.pciHostdevAddresses(in: xml).map(\.description) == ["0000:41:00.1", "0000:21:1f.7"])
    }

    @Test func garbageAndTruncatedInputDoNotCrash() {
        #expect(DomainXMLScanner.pciHostdevAddresses(in: "").isEmpty)
        #expect(DomainXMLScanner.pciHostdevAddresses(in: "<<<>>>'\"</</").isEmpty)
        let truncated = "<domain><devices><hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></sou"
        #expect(DomainXMLScanner.pciHostdevAddresses(in: truncated).map(\.description) == ["0000:01:00.0"])
        let bad = "<hostdev mode='subsystem' type='pci'><source><address bus='0x1ff' slot='0x40' function='9'/></source></hostdev>"
        #expect(DomainXMLScanner.pciHostdevAddresses(in: bad).isEmpty)
    }

    @Test func argumentsAndOperations() throws {
        let calls = try LibvirtFixtures.text("hook-calls.log").split(separator: "\n").compactMap { line -> HookInput? in
            guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]") else { return nil }
            return HookInput(arguments: line[line.index(after: open)..<close].split(separator: " ").map(String.init))
        }
        #expect(calls.count == 15)
        #expect(calls.filter(\.isRelease).map(\.reason) == Array(repeating: ["stopped end", "release end"], count: 3).flatMap { $0 })
        #expect(HookInput(arguments: ["x", "stopped"]) == nil)
        let release = try #require(HookInput(arguments: ["instance-0000001b", "release", "end", "destroyed"]))
        let xml = LibvirtFixtures.xml(try LibvirtFixtures.text("hook-stdin-release-end.xml"), adding: [
            LibvirtFixtures.hostdevXML(bus: "0x01", function: "0x0")
        ])
        #expect(release.release(domainXML: xml) == ReleaseSignal(source: .hook, domain: "instance-0000001b",
            addresses: [PCIAddress(bus: 1, device: 0, function: 0)], reason: "release end"))
        #expect(release.release(domainXML: try LibvirtFixtures.text("hook-stdin-release-end.xml")) == nil)
        #expect(try #require(HookInput(arguments: ["d", "started", "begin", "-"])).release(domainXML: xml) == nil)
    }
}
