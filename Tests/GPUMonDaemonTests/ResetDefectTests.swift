import Foundation
import GPUMonCore
import GPUMonDaemon
import GPUMonTestSupport
import HostFS
import SystemPackage
import Testing

/// One test per defect of issue 10, each failing on the code before its fix (the reason is in each comment).
@Suite struct ResetDefectTests {
    let fast = "[reset]\nmin_interval = \"0s\"\ndedupe_window = \"0s\"\n"

    /// Defect 1. Before: the plan's remove-rescan listed every function of the slot, so with `companions = false`
    /// `reset 0000:01:00.0` removed 0000:01:00.1 too.
    @Test func slotWideMethodsAreRefusedWhenTheySpanAnUnselectedFunction() async throws {
        let sys = try rtxHostOnVFIO()
        let h = try LifecycleHarness(sys: sys, config: fast + "[[gpu]]\nids = [\"10de:2204\"]\ncompanions = false\n")
        await h.base.enforcer.reconcileAll(reason: "start")
        h.base.faulty.resetLog()
        for method in [ResetMethod.removeRescan, .slot] {
            let response = try await h.reset("0000:01:00.0", method: method)
            #expect(!response.ok)
            #expect(response.lines?.contains { $0.contains("would also act on 0000:01:00.1") } == true, "\(response.lines ?? [])")
        }
        #expect(!h.base.faulty.attempts.contains { $0.contains("0000:01:00.1") }, "\(h.base.faulty.attempts)")
        #expect(h.base.kernel.resets.isEmpty)
        #expect(try h.base.driver("0000:01:00.1") == "vfio-pci")
    }

    /// Defect 2. Before: remove-rescan's new_id captured the unbound console card with the same ID and left it
    /// on vfio-pci.
    @Test func removeRescanReleasesWhatItsDynamicIDCaptured() async throws {
        let sys = try sharedIDsUnboundConsole()
        let h = try LifecycleHarness(sys: sys, config: fast + "[[gpu]]\naddresses = [\"0000:02:00.0\"]\n")
        await h.base.enforcer.reconcileAll(reason: "start")
        let response = try await h.reset("0000:02:00.0", method: .removeRescan)
        #expect(response.ok, "\(response.lines ?? [])")
        #expect(try h.base.driver("0000:01:00.0") == nil, "the console card is handed back")
        #expect(try h.base.driver("0000:01:00.1") == nil)
        #expect(h.base.alertKinds().contains(.capturedUnselected))
        #expect(h.base.kernel.dynamicIDs.values.allSatisfy { $0.isEmpty })
    }

    /// Defect 3. Before: a failure of the second remove threw past the rescan and remove_id: 0000:01:00.1 stayed
    /// removed, the IDs stayed in vfio-pci's table and the journal waited for the next start.
    @Test func aFailedRemoveRescanIsRepairedInProcess() async throws {
        let sys = try rtxHostOnVFIO()
        let h = try LifecycleHarness(sys: sys, config: fast + "[[gpu]]\nids = [\"10de:2204\"]\nreset_methods = [\"remove-rescan\"]\n")
        await h.base.enforcer.reconcileAll(reason: "start")
        h.base.faulty.resetLog()
        // Writes: new_id ×2, remove .1, remove .0 — the second remove fails.
        h.base.faulty.faults = [3: .fail(.ioError)]
        let response = try await h.reset("0000:01:00.0")
        #expect(!response.ok)
        #expect(response.lines?.contains { $0.contains("repaired in-process") } == true, "\(response.lines ?? [])")
        #expect(try h.base.driver("0000:01:00.0") == "vfio-pci")
        #expect(try h.base.driver("0000:01:00.1") == "vfio-pci", "rescanned back at once")
        #expect(h.base.kernel.dynamicIDs.values.allSatisfy { $0.isEmpty })
        #expect(!ResetJournalProbe.exists(h.stateDirectory))
        #expect(h.base.alertKinds().contains(.resetFailed))
    }

    /// Defect 3. Before: the journal was written after the new_id writes, so a crash between them leaked the IDs.
    @Test func theJournalIsOnDiskBeforeTheFirstWrite() async throws {
        let sys = try rtxHostOnVFIO()
        let h = try LifecycleHarness(sys: sys, config: fast + "[[gpu]]\nids = [\"10de:2204\"]\nreset_methods = [\"remove-rescan\"]\n")
        await h.base.enforcer.reconcileAll(reason: "start")
        h.base.faulty.resetLog()
        let state = h.stateDirectory
        let seen = Box()
        h.base.faulty.faults = [0: .before { seen.value = FileTree(root: state).exists(ResetJournal.fileName) }]
        _ = try await h.reset("0000:01:00.0")
        #expect(h.base.faulty.attempts.first?.contains("new_id") == true)
        #expect(seen.value == true, "the journal existed when new_id was written")
    }

    /// Defect 3. Before: a truncated journal failed to decode and was ignored silently: the removed functions
    /// stayed removed.
    @Test func aTruncatedJournalIsKeptAsideAndRepairedFromWhatIsReadable() async throws {
        let sys = try rtxHostOnVFIO()
        let h = try LifecycleHarness(sys: sys, config: fast + "[[gpu]]\nids = [\"10de:2204\"]\n")
        try FileTree(root: "/").createDirectory(h.stateDirectory)
        // Cut in the middle of the IDs: functions and bus are readable.
        try FileTree(root: h.stateDirectory).writeFileAtomically("""
            {"method":"remove-rescan","functions":["0000:01:00.1","0000:01:00.0"],"bridge":"0000:00:01.0",\
            "busDirectory":"devices/pci0000:00/0000:00:01.0/pci_bus/0000:01","addedIDs":["10de 2204","10de 1a
            """, to: "reset-journal.json")
        for a in ["0000:01:00.1", "0000:01:00.0"] { try sys.remove(try PCIAddress(parsing: a)) }
        await h.lifecycle.start()
        #expect(try h.base.driver("0000:01:00.0") == "vfio-pci")
        #expect(try h.base.driver("0000:01:00.1") == "vfio-pci")
        #expect(h.base.alertKinds() == [.resetRepaired])
        #expect(h.base.alerts.latest.first?.message.contains("damaged reset journal") == true)
        let kept = try FileTree(root: h.stateDirectory).list("")?.filter { $0.hasPrefix("reset-journal.json.corrupt-") }
        #expect(kept?.count == 1)
        #expect(!ResetJournalProbe.exists(h.stateDirectory))
        #expect(h.base.kernel.dynamicIDs.values.allSatisfy { $0.isEmpty })
    }

    /// Defect 4. Before: a corrupt resets.json loaded as an empty budget: quarantines lifted, resets again.
    @Test func aCorruptResetHistoryRefusesAutomaticResetsUntilCleared() async throws {
        let sys = try rtxHostOnVFIO()
        let config = fast + "[[gpu]]\nids = [\"10de:2204\"]\n"
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("gpumon-state-\(UUID().uuidString)").path
        try FileTree(root: "/").createDirectory(state)
        try FileTree(root: state).writeFileAtomically("{\"history\": {\"0000:01:00.0\": [1, 2", to: "resets.json")
        let h = try LifecycleHarness(sys: sys, config: config, stateDirectory: state)
        await h.lifecycle.start()
        await h.base.enforcer.reconcileAll(reason: "start")
        try await h.stop(["0000:01:00.0", "0000:01:00.1"])
        #expect(h.base.kernel.resets.isEmpty, "no automatic reset without a history")
        #expect(h.base.alertKinds().contains(.quarantined))
        let names = try FileTree(root: state).list("") ?? []
        #expect(names.contains { $0.hasPrefix("resets.json.corrupt-") }, "\(names)")
        // A restart still refuses (the replacement file says so).
        let again = try LifecycleHarness(sys: sys, config: config, stateDirectory: state)
        await again.lifecycle.start()
        try await again.stop(["0000:01:00.0", "0000:01:00.1"])
        #expect(again.base.kernel.resets.isEmpty)
        _ = await again.lifecycle.clear([try PCIAddress(parsing: "0000:01:00.0")])
        try await again.run(["0000:01:00.0", "0000:01:00.1"])
        #expect(again.base.kernel.resets.count == 1, "cleared: resets again")
    }

    /// Defect 5. Before: the first reconcile ran before the quarantines were loaded, and the enforcer did not
    /// skip quarantined functions: a quarantined GPU on nvidia got driver_override and unbind at start.
    @Test func aQuarantinedSlotIsLeftAloneFromTheFirstReconcile() async throws {
        let sys = try HostFixtures.rtxHost()  // on nvidia / snd_hda_intel
        let config = fast + "[[gpu]]\nids = [\"10de:2204\"]\n"
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("gpumon-state-\(UUID().uuidString)").path
        var budget = ResetBudget()
        budget.quarantine(try PCIAddress(parsing: "0000:01:00.0"), at: 1, reason: "3 resets within 1h")
        try ResetBudgetStore(stateDirectory: state).save(budget)
        let h = try LifecycleHarness(sys: sys, config: config, stateDirectory: state)
        await h.lifecycle.start()
        await h.base.enforcer.reconcileAll(reason: "start")
        #expect(h.base.faulty.attempts.isEmpty, "\(h.base.faulty.attempts)")
        #expect(try h.base.driver("0000:01:00.0") == "nvidia")
        #expect(try h.base.driver("0000:01:00.1") == "snd_hda_intel")
        #expect(await h.state("0000:01:00.1") == .quarantined)
    }

    /// Defect 6. Before: holders were checked once; a VM opening the group after the first write of a
    /// remove-rescan still had its GPU removed.
    @Test func holdersAreRecheckedBeforeEveryDestructiveStep() async throws {
        let sys = try rtxHostOnVFIO()
        let h = try LifecycleHarness(sys: sys, config: fast + "[[gpu]]\nids = [\"10de:2204\"]\nreset_methods = [\"remove-rescan\"]\n")
        await h.base.enforcer.reconcileAll(reason: "start")
        h.base.faulty.resetLog()
        let proc = h.base.proc.tree
        h.base.faulty.faults = [0: .before { hold(proc, "/dev/vfio/1", pid: 777) }]
        let response = try await h.reset("0000:01:00.0")
        #expect(!response.ok)
        #expect(!h.base.faulty.attempts.contains { $0.hasSuffix("/remove <- 1") }, "\(h.base.faulty.attempts)")
        #expect(h.base.alertKinds().contains(.inUse))
        #expect(h.base.alerts.latest.contains { $0.message.contains("777") })
        #expect(h.base.kernel.dynamicIDs.values.allSatisfy { $0.isEmpty })
        #expect(try h.base.driver("0000:01:00.0") == "vfio-pci")
    }

    /// Defect 6, kernel methods: a holder appearing after `reset_method` is written stops the `reset` write.
    @Test func aKernelResetStopsWhenTheGroupIsOpenedMidway() async throws {
        let sys = try HostFixtures.datacenterHost()
        let h = try LifecycleHarness(sys: sys, config: fast + "[[gpu]]\nids = [\"10de:20b5\"]\n")
        await h.base.enforcer.reconcileAll(reason: "start")
        h.base.faulty.resetLog()
        let proc = h.base.proc.tree
        h.base.faulty.faults = [0: .before { hold(proc, "/dev/vfio/30", pid: 778) }]
        let response = try await h.reset("0000:41:00.0", method: .flr)
        #expect(!response.ok)
        #expect(h.base.kernel.resets.isEmpty)
        #expect(try sys.tree.readString("bus/pci/devices/0000:41:00.0/reset_method") == "flr bus", "restored")
    }

    /// Defect 9. Before: the claim unbound nvidia while a process held /dev/nvidia0 (which hangs in the field).
    @Test func aHostDriverWithOpenDeviceNodesIsNotUnbound() async throws {
        let sys = try HostFixtures.rtxHost()
        let h = try LifecycleHarness(sys: sys, config: fast + "[[gpu]]\nids = [\"10de:2204\"]\ncompanions = false\n")
        try h.base.proc.tree.createDirectory("driver/nvidia/gpus/0000:01:00.0")
        try h.base.proc.tree.writeFileAtomically("Model: GeForce RTX 3090\nIRQ: 150\nDevice Minor: 0\n",
            to: "driver/nvidia/gpus/0000:01:00.0/information")
        try h.base.holdNode("/dev/nvidia0", pid: 4100)
        try sys.addDRMNode(try PCIAddress(parsing: "0000:01:00.0"), "card1")
        try h.base.holdNode("/dev/dri/card1", pid: 4101, fd: 9)
        await h.base.enforcer.reconcileAll(reason: "start")
        #expect(try h.base.driver("0000:01:00.0") == "nvidia")
        #expect(!h.base.faulty.attempts.contains { $0.contains("unbind") }, "\(h.base.faulty.attempts)")
        let alert = h.base.alerts.latest.first { $0.kind == .claimFailed }
        #expect(alert?.message.contains("/dev/nvidia0 by pid 4100") == true, "\(alert?.message ?? "no alert")")
        #expect(alert?.message.contains("/dev/dri/card1 by pid 4101") == true)
    }

    /// Defect 10. Before: the dedupe window compared wall-clock times: after the clock stepped back an hour, every
    /// stop for an hour was "the same stop". Now a stop is new when its slot started again (the VM-run identity):
    /// no clock is involved at all, and a run after the step is reset.
    @Test func aBackwardWallClockStepDoesNotSwallowStops() async throws {
        let sys = try rtxHostOnVFIO()
        let clock = TestClock()
        let h = try LifecycleHarness(sys: sys,
            config: "[reset]\nmin_interval = \"0s\"\ndedupe_window = \"5s\"\n[[gpu]]\nids = [\"10de:2204\"]\n", clock: clock)
        await h.base.enforcer.reconcileAll(reason: "start")
        try await h.stop(["0000:01:00.0", "0000:01:00.1"])
        clock.wallNow -= 3600
        clock.monotonicNow += 60
        try await h.run(["0000:01:00.0", "0000:01:00.1"])
        #expect(h.base.kernel.resets.count == 2, "\(h.base.kernel.resets)")
    }

    /// Defect 10. Before: a reset stamped before a backward step stayed "in the future", so min_interval deferred
    /// every reset for the length of the step.
    @Test func aBackwardWallClockStepDefersResetsOnlyForMinInterval() async throws {
        let sys = try rtxHostOnVFIO()
        let clock = TestClock()
        let h = try LifecycleHarness(sys: sys,
            config: "[reset]\nmin_interval = \"60s\"\ndedupe_window = \"0s\"\n[[gpu]]\nids = [\"10de:2204\"]\n", clock: clock)
        await h.base.enforcer.reconcileAll(reason: "start")
        try await h.stop(["0000:01:00.0", "0000:01:00.1"])
        clock.wallNow -= 3600
        try await h.run(["0000:01:00.0", "0000:01:00.1"])
        #expect(h.base.kernel.resets.count == 1, "within min_interval of the step: deferred")
        clock.advance(61)
        try await h.run(["0000:01:00.0", "0000:01:00.1"])
        #expect(h.base.kernel.resets.count == 2, "min_interval after the step, not an hour")
    }

    /// Defect 11. Before: only /dev/vfio/<group> counted; a QEMU holding the device through IOMMUFD
    /// (/dev/vfio/devices/vfio0 + /dev/iommu) was invisible and its GPU was reset under it.
    @Test func iommufdHoldersAreSeen() async throws {
        let sys = try rtxHostOnVFIO()
        let gpu = try PCIAddress(parsing: "0000:01:00.0")
        try sys.addVFIODeviceNode(gpu, "vfio0")
        let h = try LifecycleHarness(sys: sys, config: fast + "[[gpu]]\nids = [\"10de:2204\"]\n")
        try h.base.holdNode("/dev/vfio/devices/vfio0", pid: 5150, fd: 30)
        try h.base.holdNode("/dev/iommu", pid: 5150, fd: 31)
        let snapshot = VFIOHolderScanner(proc: h.base.proc.tree, sysfs: sys.tree).snapshot()
        #expect(snapshot.devices[gpu] == [5150])
        #expect(snapshot.groups[1] == [5150])
        #expect(snapshot.iommufd == [5150])
        await h.base.enforcer.reconcileAll(reason: "start")
        try await h.stop(["0000:01:00.0", "0000:01:00.1"])
        #expect(h.base.kernel.resets.isEmpty)
        #expect(h.base.alertKinds().contains(.inUse))
    }
}

/// A value a fault action sets from the writer's thread and the test reads after the reset.
final class Box: @unchecked Sendable {
    var value: Bool?
}

/// Makes `pid` hold `node` open in a fake /proc (from a fault action: a VM starting mid-reset).
func hold(_ proc: FileTree, _ node: String, pid: Int) {
    try? proc.createDirectory("\(pid)/fd")
    try? proc.createSymlink("\(pid)/fd/17", target: node)
}

/// Issue 10, defect 8, in the enforcer: a console card whose attributes became unreadable is not a reason to
/// take its audio function (before: the unreadable function was dropped and the audio function claimed).
@Suite struct UnreadableDeviceEnforcerTests {
    @Test func anAddEventForAnUnreadableConsoleCardClaimsNothingOfItsSlot() async throws {
        let sys = try HostFixtures.sharedIDsBootVGAHost()
        let h = try Harness(sys: sys, config: "[[gpu]]\nids = [\"10de:1aef\"]\n")
        await h.enforcer.reconcileAll(reason: "start")
        #expect(try h.driver("0000:01:00.1") == "snd_hda_intel", "the console card's audio is excluded")
        h.faulty.resetLog()
        let console = try PCIAddress(parsing: "0000:01:00.0")
        try sys.setAttribute(console, "revision", "garbage\n")
        await h.enforcer.handle(PCIEvent(action: .add, address: console, driver: nil, id: nil))
        await h.enforcer.handle(PCIEvent(action: .add, address: try PCIAddress(parsing: "0000:01:00.1"), driver: nil, id: nil))
        #expect(!h.faulty.attempts.contains { $0.contains("0000:01:00.") }, "\(h.faulty.attempts)")
        #expect(try h.driver("0000:01:00.1") == "snd_hda_intel")
        let status = await h.enforcer.status()
        #expect(status.devices.first { $0.address.description == "0000:01:00.1" }?.selected == false)
    }
}
