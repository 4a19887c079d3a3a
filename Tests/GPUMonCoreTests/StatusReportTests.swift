import GPUMonCore
import GPUMonTestSupport
import Testing

@Suite struct StatusReportTests {
    func report(_ sys: FakeSysfs, _ text: String, all: Bool = false) throws -> StatusReport {
        let config = try ConfigLoader.parse(text, file: "t.toml")
        let (topology, problems) = try PCISysfs(sysfs: sys.tree).scan()
        return StatusReport.build(
            config: config, topology: topology, problems: problems,
            selection: SelectionResolver.resolve(config, topology: topology),
            names: PCIIDDatabase(parsing: HostFixtures.pciIDs), includeUnselected: all)
    }

    @Test func hostDriverUnboundOkAndMissing() throws {
        let sys = try HostFixtures.datacenterHost()
        try sys.bind(try PCIAddress(parsing: "0000:c1:00.0"), to: nil)
        let report = try report(sys, """
            [[gpu]]
            ids = ["10de:20b5", "10de:2330"]
            [[gpu]]
            addresses = ["0000:81:00.0"]
            """)
        let states = Dictionary(uniqueKeysWithValues: report.devices.map { ($0.address.description, $0.state) })
        #expect(states == ["0000:41:00.0": .ok, "0000:c1:00.0": .unbound, "0000:81:00.0": .missing])
        #expect(!report.allSelectedOK)
        let a100 = try #require(report.devices.first { $0.address.description == "0000:41:00.0" })
        #expect(a100.name == "NVIDIA Corporation GA100 [A100 PCIe 80GB]")
        #expect(a100.hasFLR == true)
        #expect(a100.powerState == "D3hot")
        #expect(a100.groupViable == true)
    }

    @Test func rtxHostOnHostDriversIsNotOK() throws {
        let sys = try HostFixtures.rtxHost()
        let before = try report(sys, "[[gpu]]\nids = [\"10de:2204\"]\n")
        #expect(before.devices.map(\.state) == [.hostDriver, .hostDriver])
        #expect(!before.allSelectedOK)
        for address in ["0000:01:00.0", "0000:01:00.1"] { try sys.bind(try PCIAddress(parsing: address), to: "vfio-pci") }
        let fixed = try report(sys, "[[gpu]]\nids = [\"10de:2204\"]\n")
        #expect(fixed.devices.map(\.state) == [.ok, .ok])
        #expect(fixed.allSelectedOK)
    }

    @Test func allListsUnselectedAndExcludedDevices() throws {
        let sys = try HostFixtures.sharedIDsBootVGAHost()
        let report = try report(sys, "[[gpu]]\nids = [\"10de:2204\"]\n", all: true)
        #expect(report.devices.count == 7)
        let console = try #require(report.devices.first { $0.address.description == "0000:01:00.0" })
        #expect(console.state == .unselected && console.excluded == "boot-vga" && console.bootVGA)
        #expect(!report.devices.filter(\.selected).contains { $0.bootVGA })
    }

    @Test func nothingSelectedIsNotOK() throws {
        let sys = try HostFixtures.rtxHost()
        let report = try report(sys, "[[gpu]]\nids = [\"abcd:ef01\"]\n")
        #expect(report.devices.isEmpty)
        #expect(!report.allSelectedOK)
    }
}
