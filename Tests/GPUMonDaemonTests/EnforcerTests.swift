import GPUMonCore
import GPUMonDaemon
import GPUMonTestSupport
import Testing

@Suite struct EnforcerTests {
    let rtx = "[[gpu]]\nids = [\"10de:2204\"]\n"

    @Test func startMovesGPUAndAudioToVFIOAndLeavesTheRestAlone() async throws {
        let h = try Harness(sys: try HostFixtures.rtxHost(), config: rtx)
        await h.enforcer.reconcileAll(reason: "test")
        #expect(try h.driver("0000:01:00.0") == "vfio-pci")
        #expect(try h.driver("0000:01:00.1") == "vfio-pci")
        #expect(try h.driver("0000:00:02.0") == "i915")
        #expect(try h.driver("0000:02:00.0") == "igb")
        // The exact kernel-facing sequence for the GPU: override, unbind, probe.
        let gpuWrites = h.kernel.writes.filter { $0.contains("0000:01:00.0") }
        #expect(gpuWrites == [
            "bus/pci/devices/0000:01:00.0/driver_override <- vfio-pci",
            "bus/pci/drivers/nvidia/unbind <- 0000:01:00.0",
            "bus/pci/drivers_probe <- 0000:01:00.0",
        ])
        #expect(h.alertKinds().isEmpty)
        let status = await h.enforcer.status()
        #expect(status.devices.filter(\.selected).map(\.state) == [.ok, .ok])
    }

    @Test func hostDriverGrabIsCorrectedWithOneAlert() async throws {
        let h = try Harness(sys: try HostFixtures.rtxHost(), config: rtx)
        await h.enforcer.reconcileAll(reason: "test")
        try await h.grab("0000:01:00.0", by: "nouveau")
        #expect(try h.driver("0000:01:00.0") == "vfio-pci")
        let alerts = h.alerts.latest
        #expect(alerts.map(\.kind) == [.hostDriverGrab])
        #expect(alerts.first?.newDriver == "nouveau")
        #expect(alerts.first?.oldDriver == "vfio-pci")
        #expect(alerts.first?.address?.description == "0000:01:00.0")
    }

    @Test func unbindOfASelectedDeviceRebindsIt() async throws {
        let h = try Harness(sys: try HostFixtures.rtxHost(), config: rtx)
        await h.enforcer.reconcileAll(reason: "test")
        let audio = try PCIAddress(parsing: "0000:01:00.1")
        try h.sys.bind(audio, to: nil)
        await h.enforcer.handle(PCIEvent(action: .unbind, address: audio, driver: nil, id: nil))
        #expect(try h.driver("0000:01:00.1") == "vfio-pci")
        #expect(h.alertKinds().isEmpty)
    }

    @Test func eventsAboutUnselectedDevicesAreIgnored() async throws {
        let h = try Harness(sys: try HostFixtures.rtxHost(), config: rtx)
        await h.enforcer.reconcileAll(reason: "test")
        let before = h.kernel.writes.count
        try await h.grab("0000:02:00.0", by: "vfio-pci")  // someone else's business
        try await h.grab("0000:00:02.0", by: "nouveau")
        #expect(h.kernel.writes.count == before)
        #expect(h.alertKinds().isEmpty)
    }

    @Test func deviceHeldOpenIsNeverTouched() async throws {
        let h = try Harness(sys: try HostFixtures.rtxHost(), config: rtx)
        try h.holdGroup(1)
        await h.enforcer.reconcileAll(reason: "test")
        #expect(try h.driver("0000:01:00.0") == "nvidia")
        #expect(h.kernel.writes.isEmpty)
        #expect(h.alertKinds() == [.inUse, .inUse])
        let status = await h.enforcer.status()
        let gpu = try #require(status.devices.first { $0.address.description == "0000:01:00.0" })
        #expect(gpu.state == .inUse)
        #expect(gpu.note == "IOMMU group 1 held open by pid 4242")
    }

    @Test func flappingDeviceIsBackedOff() async throws {
        let h = try Harness(sys: try HostFixtures.rtxHost(),
            config: "[daemon]\nflap_limit = 2\nflap_window = \"1h\"\n" + rtx)
        await h.enforcer.reconcileAll(reason: "test")
        for _ in 0..<2 { try await h.grab("0000:01:00.0", by: "nvidia") }
        #expect(try h.driver("0000:01:00.0") == "vfio-pci")
        try await h.grab("0000:01:00.0", by: "nvidia")
        #expect(try h.driver("0000:01:00.0") == "nvidia", "the third grab within the window is not fought")
        #expect(h.alertKinds() == [.hostDriverGrab, .hostDriverGrab, .hostDriverGrab, .flapping])
        let status = await h.enforcer.status()
        #expect(status.daemon?.flapping == ["0000:01:00.0"])
    }

    @Test func dryRunWritesNothing() async throws {
        let h = try Harness(sys: try HostFixtures.rtxHost(), config: rtx, dryRun: true)
        await h.enforcer.reconcileAll(reason: "test")
        #expect(h.kernel.writes.isEmpty)
        #expect(try h.driver("0000:01:00.0") == "nvidia")
    }

    @Test func newIDFallbackReleasesTheCapturedBootVGA() async throws {
        let sys = try HostFixtures.sharedIDsBootVGAHost()
        // The console card is momentarily unbound, so a dynamic ID for its IDs would capture it.
        try sys.bind(try PCIAddress(parsing: "0000:01:00.0"), to: nil)
        let h = try Harness(sys: sys, config: rtx, ignoresOverride: true)
        await h.enforcer.reconcileAll(reason: "test")
        #expect(try h.driver("0000:02:00.0") == "vfio-pci")
        #expect(try h.driver("0000:02:00.1") == "vfio-pci")
        #expect(try h.driver("0000:01:00.0") != "vfio-pci", "the boot VGA must not stay on vfio-pci")
        #expect(h.alertKinds().contains(.capturedUnselected))
        #expect(h.kernel.writes.contains("bus/pci/drivers/vfio-pci/remove_id <- 10de 2204"))
    }

    @Test func missingTargetDriverFailsWithAnAlert() async throws {
        let h = try Harness(sys: try HostFixtures.rtxHost(), config: rtx,
            registered: ["nvidia", "snd_hda_intel", "i915", "igb"])
        await h.enforcer.reconcileAll(reason: "test")
        #expect(h.alertKinds() == [.claimFailed, .claimFailed])
        #expect(h.alerts.latest.first?.message.hasPrefix("cannot bind 0000:01:00.0 to vfio-pci") == true)
    }

    @Test func onTargetWithoutOverrideGetsTheOverride() async throws {
        let sys = try HostFixtures.rtxHost()
        for address in ["0000:01:00.0", "0000:01:00.1"] { try sys.bind(try PCIAddress(parsing: address), to: "vfio-pci") }
        let h = try Harness(sys: sys, config: rtx)
        await h.enforcer.reconcileAll(reason: "test")
        #expect(h.kernel.writes == [
            "bus/pci/devices/0000:01:00.0/driver_override <- vfio-pci",
            "bus/pci/devices/0000:01:00.1/driver_override <- vfio-pci",
        ])
        // Now an unbind followed by a probe brings it back to vfio-pci, not nvidia.
        let gpu = try PCIAddress(parsing: "0000:01:00.0")
        try sys.bind(gpu, to: nil)
        try h.kernel.probe(gpu)
        #expect(try h.driver("0000:01:00.0") == "vfio-pci")
    }

    @Test func nonViableGroupIsAlertedOnce() async throws {
        let sys = try FakeSysfs()
        try sys.add(.init("0000:05:00.0", id: "10de:2204", class: 0x030000, driver: "nvidia", group: 7, reset: ["bus"]))
        try sys.add(.init("0000:06:00.0", id: "8086:1533", class: 0x020000, driver: "igb", group: 7))
        let h = try Harness(sys: sys, config: rtx)
        await h.enforcer.reconcileAll(reason: "test")
        await h.enforcer.reconcileAll(reason: "again")
        #expect(try h.driver("0000:05:00.0") == "vfio-pci")
        #expect(try h.driver("0000:06:00.0") == "igb")
        #expect(h.alertKinds() == [.groupNotViable])
    }
}
