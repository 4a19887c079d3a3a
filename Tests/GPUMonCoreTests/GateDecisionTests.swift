@testable import GPUMonCore
import Testing

/// The admission gate's policy: one verdict per function from its status and the lifecycle side's state.
@Suite struct GateDecisionTests {
    let gpu = PCIAddress(bus: 1, device: 0, function: 0)

    func device(_ state: DeviceState, driver: String? = "vfio-pci", selected: Bool = true, viable: Bool? = true,
        note: String? = nil) -> DeviceStatus
    {
        var status = DeviceStatus(address: gpu, targetDriver: "vfio-pci", selected: selected, bootVGA: false,
            state: state)
        status.driver = driver
        status.groupViable = viable
        status.iommuGroup = 1
        status.note = note
        return status
    }

    @Test func aReadyFunctionPasses() {
        #expect(GateDecision.decide(address: gpu, device: device(.ok), lifecycle: .init()) == .ready)
    }

    @Test func anUnselectedFunctionAlwaysPasses() {
        let held = device(.unselected, driver: "nvidia", selected: false, viable: false)
        #expect(GateDecision.decide(address: gpu, device: held, lifecycle: .init(quarantine: "x")) == .ready)
    }

    @Test func aResetRunningOrDueWaits() {
        #expect(GateDecision.decide(address: gpu, device: device(.ok), lifecycle: .init(resetRunningOrDue: true)).isWait)
        #expect(GateDecision.decide(address: gpu, device: device(.resetting), lifecycle: .init()).isWait)
        // Mid remove-rescan the function is gone from sysfs; the reset owns it, so that is a wait too.
        #expect(GateDecision.decide(address: gpu, device: device(.missing, driver: nil),
            lifecycle: .init(resetRunningOrDue: true)).isWait)
        // ... and gone from the status report altogether (failed before: refused as "not present in sysfs").
        #expect(GateDecision.decide(address: gpu, device: nil, lifecycle: .init(resetRunningOrDue: true)).isWait)
    }

    @Test func aQuarantineRefusesEvenWhileAResetIsDueAndNamesTheFix() {
        let verdict = GateDecision.decide(address: gpu, device: device(.ok),
            lifecycle: .init(resetRunningOrDue: true, quarantine: "3 resets within 10m"))
        guard case .refuse(let reason, let fix) = verdict else { Issue.record("\(verdict)"); return }
        #expect(reason == "quarantined: 3 resets within 10m")
        #expect(fix.contains("gpumon clear 0000:01:00.0"))
    }

    @Test func stuckHeldMissingAndNonViableAreRefused() {
        for (status, word) in [
            (device(.stuck, note: "reset failed"), "stuck: reset failed"),
            (device(.inUse, note: "IOMMU group 1 held open by pid 7"), "held by another process"),
            (device(.missing, driver: nil), "not present"),
            (device(.ok, viable: false), "IOMMU group 1 is not viable"),
        ] {
            let verdict = GateDecision.decide(address: gpu, device: status, lifecycle: .init())
            guard case .refuse(let reason, _) = verdict else { Issue.record("\(status.state): \(verdict)"); continue }
            #expect(reason.contains(word), "\(reason)")
        }
        guard case .refuse = GateDecision.decide(address: gpu, device: nil, lifecycle: .init()) else {
            Issue.record("a function sysfs does not list must be refused")
            return
        }
    }

    @Test func aHostDriverWaitsForTheClaimOnlyWhenSomeoneWillClaimIt() {
        let onHost = device(.hostDriver, driver: "nvidia")
        #expect(GateDecision.decide(address: gpu, device: onHost, lifecycle: .init(claimable: true)).isWait)
        let verdict = GateDecision.decide(address: gpu, device: onHost, lifecycle: .init(claimable: false))
        guard case .refuse(let reason, _) = verdict else { Issue.record("\(verdict)"); return }
        #expect(reason.hasPrefix("on nvidia, not vfio-pci, and gpumon is not claiming it"))
    }

    @Test func theRefusalIsOneLine() {
        let line = GateDecision.refusalLine(address: gpu, domain: "instance-0000002a", reason: "quarantined: x",
            fix: "`gpumon clear 0000:01:00.0`")
        #expect(line == "gpumon: not starting instance-0000002a: 0000:01:00.0 quarantined: x; fix: `gpumon clear 0000:01:00.0`")
    }

    @Test func theGateKeysAreReadWithTheirDefaults() throws {
        let defaults = try ConfigLoader.parse("[[gpu]]\nids = [\"10de:2204\"]\n", file: "t.toml")
        #expect(defaults.libvirt.gate == .enforce && defaults.libvirt.gateTimeout == .seconds(60))
        #expect(defaults.libvirt.gateWhenDown == .allow)
        let set = try ConfigLoader.parse(
            "[libvirt]\ngate = \"warn\"\ngate_timeout = \"90s\"\ngate_when_down = \"refuse\"\n[[gpu]]\nids = [\"10de:2204\"]\n",
            file: "t.toml")
        #expect(set.libvirt.gate == .warn && set.libvirt.gateTimeout == .seconds(90))
        #expect(set.libvirt.gateWhenDown == .refuse)
    }

    @Test func theDomainOfAQEMUCommandLine() {
        #expect(QEMUCommandLine.guestName(arguments: ["/usr/bin/qemu-system-x86_64", "-name",
            "guest=instance-0000002a,debug-threads=on", "-S"]) == "instance-0000002a")
        #expect(QEMUCommandLine.guestName(arguments: ["qemu", "-name", "guest=a,,b,debug-threads=on"]) == "a,b")
        #expect(QEMUCommandLine.guestName(arguments: ["qemu", "-name", "plain"]) == "plain")
        #expect(QEMUCommandLine.guestName(arguments: ["qemu", "-m", "64"]) == nil)
        #expect(QEMUCommandLine.guestName(arguments: ["qemu", "-name"]) == nil)
    }
}
