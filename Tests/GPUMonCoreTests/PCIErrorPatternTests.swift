import GPUMonCore
import Testing

/// Defect 10: since about 6.8 AER prints `Uncorrectable (…)` where 6.1 printed `Uncorrected (…)`, and DPC
/// containment, pciehp link-down / card-not-present and D3cold lines were not matched; the stuck check and the log
/// filter kept two diverging lists. Every line below is a real kernel line: the format string as it is in the lab
/// kernels' images (Debian's linux-image-6.1.0-57-amd64 6.1.192 and linux-image-6.12.117+deb12-amd64
/// 6.12.117, found with `strings` on the decompressed vmlinuz), printed by dev_printk with its `driver BDF: `
/// prefix and the subsystem's `AER: `/`DPC: `/`pciehp: ` prefix, filled in for a GPU at 01:00.0 below the root
/// port 00:03.0.
struct PCIErrorPatternTests {
    static let gpu = PCIAddress(bus: 1, device: 0, function: 0)
    static let port = PCIAddress(bus: 0, device: 3, function: 0)

    static let realLines: [(line: String, kernel: String, pattern: String)] = [
        // aer.c aer_print_port_info: "AER: %s%s error message received from %04x:%02x:%02x.%d"
        ("pcieport 0000:00:03.0: AER: Uncorrected (Non-Fatal) error message received from 0000:01:00.0", "6.1",
         "AER uncorrected"),
        ("pcieport 0000:00:03.0: AER: Uncorrected (Fatal) error message received from 0000:01:00.0", "6.1",
         "AER uncorrected fatal"),
        ("pcieport 0000:00:03.0: AER: Uncorrectable (Non-Fatal) error message received from 0000:01:00.0", "6.12",
         "AER uncorrectable"),
        ("pcieport 0000:00:03.0: AER: Uncorrectable (Fatal) error message received from 0000:01:00.0", "6.12",
         "AER uncorrectable fatal"),
        // aer.c aer_print_error: "PCIe Bus Error: severity=%s, type=%s, (%s)"
        ("vfio-pci 0000:01:00.0: AER: PCIe Bus Error: severity=Uncorrectable (Non-Fatal), type=Transaction Layer, "
            + "(Requester ID)", "6.12", "AER uncorrectable"),
        // dpc.c dpc_process_error
        ("pcieport 0000:00:03.0: DPC: containment event, status:0x1f01 source:0x0000", "6.1", "DPC containment"),
        ("pcieport 0000:00:03.0: DPC: containment event, status:0x1f01, ERR_FATAL received from 0000:01:00.0",
         "6.12", "DPC containment"),
        // pciehp_ctrl.c: "Slot(%s): Link Down", "Slot(%s): Card not present"
        ("pcieport 0000:00:03.0: pciehp: Slot(1): Link Down", "6.1 and 6.12", "hotplug link down"),
        ("pcieport 0000:00:03.0: pciehp: Slot(1): Card not present", "6.1 and 6.12", "hotplug card not present"),
        // pci.c pci_power_up: "Unable to change power state from %s to D0, device inaccessible"
        ("vfio-pci 0000:01:00.0: Unable to change power state from D3cold to D0, device inaccessible", "6.1 and 6.12",
         "D3cold: device inaccessible"),
        // pci.c pci_dev_wait: "not ready %dms after %s; giving up"
        ("vfio-pci 0000:01:00.0: not ready 65535ms after FLR; giving up", "6.1 and 6.12", "not ready after reset"),
        // probe.c: "unknown header type %02x, ignoring device"
        ("pci 0000:01:00.0: unknown header type 7f, ignoring device", "6.1 and 6.12", "unknown header type"),
        // pci.c: "timed out waiting for pending transaction; performing function level reset anyway"
        ("vfio-pci 0000:01:00.0: timed out waiting for pending transaction; performing function level reset anyway",
         "6.1 and 6.12", "pending transactions"),
    ]

    @Test(arguments: realLines.indices)
    func eachRealLineMatchesItsPatternAndMakesTheGPUStuck(index: Int) {
        let (line, kernel, name) = Self.realLines[index]
        #expect(PCIErrorPattern.first(in: line[...])?.name == name, "\(kernel): \(line)")
        #expect(VFIOErrorMatcher.isError(line), "the domain-log filter keeps it (\(kernel))")
        let device = PCIDevice.fixture(Self.gpu, parent: Self.port)
        let assessment = StuckAssessment.assess(address: Self.gpu, device: device, logLines: [line])
        #expect(assessment.isStuck, "\(kernel): \(line)")
    }

    @Test func everyPatternHasARealLine() {
        let covered = Set(Self.realLines.map(\.pattern))
        let kernelPatterns = PCIErrorPattern.all.filter { $0.source.contains("drivers/") }.map(\.name)
        #expect(Set(kernelPatterns).subtracting(covered) == ["power state change failed"],
            "the general power-state pattern is covered by the D3cold line, matched first by its own")
    }

    @Test func portLinesCountOnlyForFunctionsBelowThatPort() {
        let line = "pcieport 0000:00:04.0: pciehp: Slot(2): Link Down"
        let device = PCIDevice.fixture(Self.gpu, parent: Self.port)
        #expect(!StuckAssessment.assess(address: Self.gpu, device: device, logLines: [line]).isStuck)
        let other = "pcieport 0000:00:03.0: AER: Uncorrectable (Fatal) error message received from 0000:02:00.0"
        #expect(!StuckAssessment.assess(address: Self.gpu, device: device, logLines: [other]).isStuck,
            "an AER line about another function")
    }

    @Test(arguments: [
        "pcieport 0000:00:03.0: AER: Corrected error message received from 0000:01:00.0",
        "mce: Uncorrected hardware memory error in user-access at 7f0012340000",
        "pcieport 0000:00:03.0: DPC: error containment capabilities: Int Msg #0, RPExt+ PoisonedTLP+ SwTrigger+ "
            + "RP PIO Log 4, DL_ActiveErr+",
        "vfio-pci 0000:101:00.0: not ready 65535ms after FLR; giving up",
    ])
    func notAboutThisGPU(line: String) {
        let device = PCIDevice.fixture(Self.gpu, parent: Self.port)
        #expect(!StuckAssessment.assess(address: Self.gpu, device: device, logLines: [line]).isStuck, "\(line)")
    }
}

extension PCIDevice {
    static func fixture(_ address: PCIAddress, parent: PCIAddress) -> PCIDevice {
        var device = PCIDevice(address: address, id: PCIID(vendor: 0x10de, device: 0x2204),
            pciClass: PCIClass(rawValue: 0x030000), sysfsPath: "/sys/bus/pci/devices/\(address)")
        device.powerState = "D0"
        device.configVendorID = 0x10de
        device.parentBridge = parent
        return device
    }
}
