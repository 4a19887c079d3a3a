import Foundation
import GPUMonCore
import GPUMonTestSupport
import HostFS
import Testing

@Suite struct StatusCommandTests {
    let rtxConfig = "[[gpu]]\nids = [\"10de:2204\"]\n"

    func run(_ sys: FakeSysfs, _ config: String, _ extra: [String]) throws -> BuiltBinary.Result {
        let configPath = try BuiltBinary.temporaryFile(config)
        let ids = try BuiltBinary.temporaryFile(HostFixtures.pciIDs, name: "pci.ids")
        return try BuiltBinary.run(["status", "--config", configPath, "--sysfs-root", sys.tree.root] + extra,
            environment: ["GPUMON_PCI_IDS": ids])
    }

    func devices(_ result: BuiltBinary.Result) throws -> [[String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try #require(object?["devices"] as? [[String: Any]])
    }

    @Test func jsonHasEveryDocumentedFieldForTheRTXHost() throws {
        let sys = try HostFixtures.rtxHost()
        let result = try run(sys, rtxConfig, ["--json"])
        #expect(result.status == 1, "GPU on nvidia is not ok: exit 1")
        #expect(result.stderr.isEmpty)
        let list = try devices(result)
        #expect(list.count == 2)
        let gpu = list[0]
        let fields = ["address", "vendor", "device", "class", "name", "driver", "target_driver", "selected",
            "companion_of", "iommu_group", "group_viable", "reset_methods", "power_state", "boot_vga", "state"]
        for field in fields { #expect(gpu.keys.contains(field), "missing \(field)") }
        #expect(gpu["address"] as? String == "0000:01:00.0")
        #expect(gpu["vendor"] as? String == "10de")
        #expect(gpu["device"] as? String == "2204")
        #expect(gpu["class"] as? String == "0x030000")
        #expect(gpu["name"] as? String == "NVIDIA Corporation GA102 [GeForce RTX 3090]")
        #expect(gpu["driver"] as? String == "nvidia")
        #expect(gpu["target_driver"] as? String == "vfio-pci")
        #expect(gpu["selected"] as? Bool == true)
        #expect(gpu["companion_of"] is NSNull)
        #expect(gpu["iommu_group"] as? Int == 1)
        #expect(gpu["group_viable"] as? Bool == true)
        #expect(gpu["reset_methods"] as? [String] == ["bus"])
        #expect(gpu["power_state"] as? String == "D0")
        #expect(gpu["boot_vga"] as? Bool == false)
        #expect(gpu["state"] as? String == "host-driver")
        let audio = list[1]
        #expect(audio["companion_of"] as? String == "0000:01:00.0")
        #expect(audio["driver"] as? String == "snd_hda_intel")
        #expect(audio["state"] as? String == "host-driver")
    }

    @Test func exitZeroWhenEverySelectedDeviceIsOnVFIO() throws {
        let sys = try HostFixtures.rtxHost()
        for address in ["0000:01:00.0", "0000:01:00.1"] { try sys.bind(try PCIAddress(parsing: address), to: "vfio-pci") }
        let result = try run(sys, rtxConfig, [])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        #expect(lines[1].hasPrefix("ADDRESS"))
        #expect(lines[2].contains("0000:01:00.0") && lines[2].contains("vfio-pci") && lines[2].contains(" ok "))
        #expect(lines[3].contains("ok (companion of 0000:01:00.0)"))
        #expect(lines[4] == "IOMMU group 1: viable")
    }

    @Test func allIncludesTheBootVGAAsExcluded() throws {
        let sys = try HostFixtures.sharedIDsBootVGAHost()
        let result = try run(sys, rtxConfig, ["--json", "--all"])
        let list = try devices(result)
        #expect(list.count == 7)
        let console = try #require(list.first { $0["address"] as? String == "0000:01:00.0" })
        #expect(console["selected"] as? Bool == false)
        #expect(console["excluded"] as? String == "boot-vga")
        #expect(console["boot_vga"] as? Bool == true)
        #expect(console["state"] as? String == "unselected")
        let passthrough = try #require(list.first { $0["address"] as? String == "0000:02:00.0" })
        #expect(passthrough["selected"] as? Bool == true)
    }

    @Test func badConfigIsOneLineAndExitTwo() throws {
        let sys = try HostFixtures.rtxHost()
        let result = try run(sys, "[[gpu]]\nids = [\"10de-2204\"]\n", ["--json"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(result.stderr.hasSuffix(
            "gpumon.toml:2: gpu[0].ids[0]: invalid PCI ID \"10de-2204\": expected VENDOR:DEVICE as two 4-digit hex numbers, e.g. 10de:2204\n"))
    }

    @Test func unreadableSysfsIsExitThree() throws {
        let config = try BuiltBinary.temporaryFile(rtxConfig)
        let result = try BuiltBinary.run(["status", "--config", config, "--sysfs-root", "/nonexistent"])
        #expect(result.status == 3)
        #expect(result.stderr
            == "gpumon: /nonexistent/bus/pci/devices does not exist: not a sysfs tree, or sysfs is not mounted\n")
    }

    @Test func usageErrorsAreExitTwo() throws {
        for arguments in [["status", "--bogus"], ["status", "--sysfs-root", "relative"], ["no-such-command"]] {
            let result = try BuiltBinary.run(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
        }
    }

    @Test func configFromEnvironment() throws {
        let sys = try HostFixtures.rtxHost()
        let config = try BuiltBinary.temporaryFile(rtxConfig)
        let result = try BuiltBinary.run(["status", "--json"],
            environment: ["GPUMON_CONFIG": config, "GPUMON_SYSFS_ROOT": sys.tree.root])
        #expect(result.status == 1)
        #expect(try devices(result).count == 2)
    }
}
