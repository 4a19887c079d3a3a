import GPUMonCore
import GPUMonTestSupport
import HostFS
import Testing

@Suite struct PCISysfsTests {
    @Test func readsEveryAttributeOfTheRTXHost() throws {
        let sys = try HostFixtures.rtxHost()
        let (topology, problems) = try PCISysfs(sysfs: sys.tree).scan()
        #expect(problems.isEmpty)
        #expect(topology.devices.count == 7)

        let gpu = try #require(topology[try PCIAddress(parsing: "0000:01:00.0")])
        #expect(gpu.id == PCIID(vendor: 0x10de, device: 0x2204))
        #expect(gpu.subsystemVendor == 0x1458 && gpu.subsystemDevice == 0x403b)
        #expect(gpu.pciClass.rawValue == 0x030000)
        #expect(gpu.revision == 0xa1)
        #expect(gpu.driver == "nvidia")
        #expect(gpu.driverOverride == nil)  // "(null)" means unset
        #expect(gpu.iommuGroup == 1)
        #expect(gpu.resetMethods == ["bus"])
        #expect(gpu.hasResetAttribute)
        #expect(!gpu.hasFLR)
        #expect(gpu.powerState == "D0")
        #expect(gpu.bootVGA == false)
        #expect(gpu.d3coldAllowed == true)
        #expect(gpu.parentBridge == (try PCIAddress(parsing: "0000:00:01.0")))
        #expect(gpu.configVendorID == 0x10de)
        #expect(gpu.configSpaceReadable == true)
        #expect(!gpu.isBridge)
        #expect(gpu.sysfsPath == "devices/pci0000:00/0000:00:01.0/0000:01:00.0")

        let audio = try #require(topology[try PCIAddress(parsing: "0000:01:00.1")])
        #expect(audio.bootVGA == nil)  // only VGA-class devices have boot_vga
        #expect(topology.siblings(of: gpu.address).map(\.address) == [audio.address])
        #expect(Set(topology.groupMembers(1).map(\.address.description))
            == ["0000:00:01.0", "0000:01:00.0", "0000:01:00.1"])

        let rootPort = try #require(topology[try PCIAddress(parsing: "0000:00:01.0")])
        #expect(rootPort.isBridge)
        #expect(rootPort.parentBridge == nil)
        let hostBridge = try #require(topology[try PCIAddress(parsing: "0000:00:00.0")])
        #expect(hostBridge.isBridge && hostBridge.driver == nil && hostBridge.resetMethods == nil)
    }

    @Test func deviceOffTheBusReadsAllOnes() throws {
        let sys = try FakeSysfs()
        try sys.add(.init("0000:01:00.0", id: "10de:2204", class: 0x030000, driver: "vfio-pci", group: 1,
            reset: ["bus"], powerState: "D3cold", configVendor: 0xffff))
        let device = try #require(try PCISysfs(sysfs: sys.tree).read(try PCIAddress(parsing: "0000:01:00.0")))
        #expect(device.configVendorID == 0xffff)
        #expect(device.configSpaceReadable == false)
        #expect(device.powerState == "D3cold")
    }

    @Test func emptyResetMethodMeansNoResetPossible() throws {
        let sys = try FakeSysfs()
        try sys.add(.init("0000:03:00.0", id: "1a03:2000", class: 0x030000, reset: []))
        let device = try #require(try PCISysfs(sysfs: sys.tree).read(try PCIAddress(parsing: "0000:03:00.0")))
        #expect(device.resetMethods == [])
        #expect(!device.hasResetAttribute)
        #expect(device.driver == nil)
    }

    @Test func absentDeviceIsNil() throws {
        let sys = try HostFixtures.rtxHost()
        #expect(try PCISysfs(sysfs: sys.tree).read(try PCIAddress(parsing: "0000:09:00.0")) == nil)
    }

    @Test func oddAttributesBecomeProblemsNotCrashes() throws {
        let sys = try HostFixtures.rtxHost()
        let nic = try PCIAddress(parsing: "0000:02:00.0")
        try sys.setAttribute(nic, "vendor", "garbage\n")
        let gpu = try PCIAddress(parsing: "0000:01:00.0")
        try sys.setAttribute(gpu, "boot_vga", "2\n")
        try sys.tree.createDirectory("bus/pci/devices/not-an-address")
        let (topology, problems) = try PCISysfs(sysfs: sys.tree).scan()
        #expect(topology[nic] == nil)
        #expect(topology[gpu] == nil)
        #expect(topology.devices.count == 5)
        let root = sys.tree.root
        #expect(problems.map(\.description).sorted() == [
            "\(root)/bus/pci/devices/0000:02:00.0/vendor: expected a hex number, found \"garbage\"",
            "\(root)/bus/pci/devices/not-an-address: entry is not a PCI address",
            "\(root)/bus/pci/devices/0000:01:00.0/boot_vga: expected 0 or 1, found \"2\"",
        ].sorted())
    }

    @Test func missingBusIsATypedError() throws {
        let tree = FileTree(root: "/nonexistent-sysfs")
        #expect(throws: SysfsScanError.self) { try PCISysfs(sysfs: tree).scan() }
        do {
            _ = try PCISysfs(sysfs: tree).scan()
        } catch {
            #expect(error.description
                == "/nonexistent-sysfs/bus/pci/devices does not exist: not a sysfs tree, or sysfs is not mounted")
        }
    }

    @Test func pciIDDatabaseNamesDevices() {
        let db = PCIIDDatabase(parsing: HostFixtures.pciIDs)
        #expect(db.name(for: PCIID(vendor: 0x10de, device: 0x2204)) == "NVIDIA Corporation GA102 [GeForce RTX 3090]")
        #expect(db.name(for: PCIID(vendor: 0x10de, device: 0x9999)) == "NVIDIA Corporation device 9999")
        #expect(db.name(for: PCIID(vendor: 0x1234, device: 0x1111)) == nil)
        // Subsystem lines and the class section must not be mistaken for devices.
        #expect(db.deviceName(PCIID(vendor: 0x10de, device: 0x1458)) == nil)
        #expect(db.deviceName(PCIID(vendor: 0x8086, device: 0x0000)) == nil)
        #expect(PCIIDDatabase().name(for: PCIID(vendor: 0x10de, device: 0x2204)) == nil)
    }
}
