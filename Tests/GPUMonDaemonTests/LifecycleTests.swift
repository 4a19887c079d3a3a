import GPUMonCore
import GPUMonDaemon
import GPUMonTestSupport
import HostFS
import Testing

@Suite struct LifecycleTests {
    /// The RTX host with the GPU and its audio already on vfio-pci, as after the daemon started.
    func rtxOnVFIO() async throws -> (FakeSysfs, String) {
        let sys = try HostFixtures.rtxHost()
        for a in ["0000:01:00.0", "0000:01:00.1"] { try sys.bind(try PCIAddress(parsing: a), to: "vfio-pci") }
        return (sys, "[reset]\nmin_interval = \"0s\"\ndedupe_window = \"0s\"\n[[gpu]]\nids = [\"10de:2204\"]\n")
    }

    @Test func noFLRSlotIsResetAsAWholeAfterAStopAndStaysOnVFIO() async throws {
        let (sys, config) = try await rtxOnVFIO()
        let h = try LifecycleHarness(sys: sys, config: config)
        await h.base.enforcer.reconcileAll(reason: "start")
        try await h.stop(["0000:01:00.0", "0000:01:00.1"])
        // flr: not offered; bus: refused with a sibling in the slot; so the slot-wide VFIO hot reset.
        #expect(h.base.kernel.resets == ["slot 0000:01:00"])
        #expect(try h.base.driver("0000:01:00.0") == "vfio-pci")
        #expect(try h.base.driver("0000:01:00.1") == "vfio-pci")
        #expect(h.base.kernel.binds.isEmpty, "no driver bound anything during the reset")
        #expect(await h.state("0000:01:00.0") == .ok)
        #expect(h.base.alertKinds().isEmpty)
    }

    @Test func threeSignalsForOneStopGiveOneReset() async throws {
        let (sys, _) = try await rtxOnVFIO()
        let h = try LifecycleHarness(sys: sys,
            config: "[reset]\nmin_interval = \"0s\"\ndedupe_window = \"5s\"\n[[gpu]]\nids = [\"10de:2204\"]\n")
        await h.base.enforcer.reconcileAll(reason: "start")
        try await h.stop(["0000:01:00.0", "0000:01:00.1"], source: .hook)
        try await h.stop(["0000:01:00.0", "0000:01:00.1"], source: .log)
        try await h.stop(["0000:01:00.0"], source: .process)
        #expect(h.base.kernel.resets.count == 1, "\(h.base.kernel.resets)")
    }

    @Test func healthyFLRCapableDeviceIsNotResetButAWedgedOneIs() async throws {
        let sys = try HostFixtures.datacenterHost()
        let h = try LifecycleHarness(sys: sys, config: "[reset]\nmin_interval = \"0s\"\ndedupe_window = \"0s\"\n[[gpu]]\nids = [\"10de:20b5\"]\n")
        await h.base.enforcer.reconcileAll(reason: "start")
        try await h.stop(["0000:41:00.0"])
        #expect(h.base.kernel.resets.isEmpty, "auto + FLR + healthy: nothing to do")
        let a100 = try PCIAddress(parsing: "0000:41:00.0")
        try h.base.kernel.wedge(a100, fixedBy: ["flr"])
        try await h.run(["0000:41:00.0"])
        #expect(h.base.kernel.resets == ["flr 0000:41:00.0"])
        #expect(h.base.alertKinds() == [.stuck])
        #expect(try PCISysfs(sysfs: sys.tree).read(a100)?.configVendorID == 0x10de)
        // reset_method is put back the way it was.
        #expect(try sys.tree.readString("bus/pci/devices/0000:41:00.0/reset_method") == "flr bus")
    }

    @Test func deviceInUseIsNeverReset() async throws {
        let (sys, config) = try await rtxOnVFIO()
        let h = try LifecycleHarness(sys: sys, config: config)
        await h.base.enforcer.reconcileAll(reason: "start")
        try h.base.holdGroup(1)
        try await h.stop(["0000:01:00.0"])
        #expect(h.base.kernel.resets.isEmpty)
        #expect(h.base.alertKinds() == [.inUse])
        let refused = await h.lifecycle.operatorReset([try PCIAddress(parsing: "0000:01:00.0")], method: nil, dryRun: false)
        #expect(!refused.ok)
        #expect(refused.lines?.first?.contains("held open by a process") == true)
        // The holder's real stop comes later, with no new start seen in between: it is still a new stop.
        try h.base.releaseGroup(1)
        try await h.stop(["0000:01:00.0"], source: .process)
        #expect(h.base.kernel.resets.count == 1, "the stop after an in-use one was taken for the same stop")
    }

    @Test func tenStopsGiveExactlyMaxResetsThenQuarantineThatSurvivesARestart() async throws {
        let (sys, _) = try await rtxOnVFIO()
        let config = "[reset]\nmax_resets = 3\nwindow = \"1h\"\nmin_interval = \"0s\"\ndedupe_window = \"0s\"\n[[gpu]]\nids = [\"10de:2204\"]\n"
        let h = try LifecycleHarness(sys: sys, config: config)
        await h.base.enforcer.reconcileAll(reason: "start")
        for _ in 0..<10 { try await h.run(["0000:01:00.0", "0000:01:00.1"]) }
        #expect(h.base.kernel.resets.count == 3)
        #expect(h.base.alertKinds() == [.quarantined])
        #expect(await h.state("0000:01:00.0") == .quarantined)

        // A new daemon with the same state directory keeps the quarantine.
        let again = try LifecycleHarness(sys: sys, config: config, stateDirectory: h.stateDirectory)
        await again.lifecycle.start()
        try await again.stop(["0000:01:00.0"])
        #expect(again.base.kernel.resets.isEmpty)
        #expect(await again.state("0000:01:00.0") == .quarantined)
        let cleared = await again.lifecycle.clear([try PCIAddress(parsing: "0000:01:00.0")])
        #expect(cleared.count == 1)
        try await again.run(["0000:01:00.0"])
        #expect(again.base.kernel.resets.count == 1)
    }

    @Test func clearingAQuarantineLiftsItOnEveryFunctionOfTheSlot() async throws {
        // Seen in the kernel lab: after `gpumon clear 0000:01:00.0` the audio function still showed quarantined.
        let (sys, _) = try await rtxOnVFIO()
        let config = "[reset]\nmax_resets = 1\nwindow = \"1h\"\nmin_interval = \"0s\"\ndedupe_window = \"0s\"\n[[gpu]]\nids = [\"10de:2204\"]\n"
        let h = try LifecycleHarness(sys: sys, config: config)
        await h.base.enforcer.reconcileAll(reason: "start")
        for _ in 0..<2 { try await h.run(["0000:01:00.0", "0000:01:00.1"]) }
        #expect(await h.state("0000:01:00.0") == .quarantined)
        #expect(await h.state("0000:01:00.1") == .quarantined)
        // The operator names the function status showed as quarantined: the audio one.
        let cleared = await h.lifecycle.clear([try PCIAddress(parsing: "0000:01:00.1")])
        #expect(cleared.count == 1)
        #expect(await h.state("0000:01:00.0") == .ok)
        #expect(await h.state("0000:01:00.1") == .ok)
        try await h.run(["0000:01:00.0", "0000:01:00.1"])
        #expect(h.base.kernel.resets.count == 2)
    }

    @Test func removeRescanKeepsHostDriversAwayThroughADynamicID() async throws {
        let (sys, _) = try await rtxOnVFIO()
        let h = try LifecycleHarness(sys: sys, config: "[reset]\nmin_interval = \"0s\"\n[[gpu]]\nids = [\"10de:2204\"]\nreset_methods = [\"remove-rescan\"]\n")
        await h.base.enforcer.reconcileAll(reason: "start")
        try await h.stop(["0000:01:00.0"])
        #expect(try h.base.driver("0000:01:00.0") == "vfio-pci")
        #expect(try h.base.driver("0000:01:00.1") == "vfio-pci")
        #expect(h.base.kernel.binds.allSatisfy { $0.hasSuffix(" vfio-pci") }, "\(h.base.kernel.binds)")
        let writes = h.base.kernel.writes
        #expect(writes.contains("bus/pci/drivers/vfio-pci/new_id <- 10de 2204"))
        #expect(writes.contains("bus/pci/drivers/vfio-pci/remove_id <- 10de 2204"))
        #expect(writes.contains { $0.hasSuffix("pci_bus/0000:01/rescan <- 1") }, "only the bridge's bus is rescanned")
        #expect(!writes.contains("bus/pci/rescan <- 1"))
        // The new device objects got driver_override again.
        #expect(try sys.tree.readString("bus/pci/devices/0000:01:00.0/driver_override") == "vfio-pci")
        #expect(ResetJournalProbe.exists(h.stateDirectory) == false)
    }

    @Test func removeRescanIsRefusedWhenAHostDriverWouldWinTheRescan() async throws {
        let (sys, _) = try await rtxOnVFIO()
        let h = try LifecycleHarness(sys: sys,
            config: "[reset]\nmin_interval = \"0s\"\n[[gpu]]\nids = [\"10de:2204\"]\nreset_methods = [\"remove-rescan\"]\n",
            earlierDrivers: { _ in ["nvidia"] })
        await h.base.enforcer.reconcileAll(reason: "start")
        try await h.stop(["0000:01:00.0"])
        #expect(sys.tree.exists("bus/pci/devices/0000:01:00.0"), "nothing was removed")
        #expect(h.base.alertKinds() == [.resetFailed])
        #expect(h.base.alerts.latest.first?.message.contains("nvidia registered before vfio-pci") == true)
        #expect(await h.state("0000:01:00.0") == .stuck)
    }

    @Test func aResetInterruptedMidRescanIsRepairedOnStart() async throws {
        let (sys, config) = try await rtxOnVFIO()
        let h = try LifecycleHarness(sys: sys, config: config)
        // What a daemon killed between remove and rescan leaves behind.
        try FileTree(root: "/").createDirectory(h.stateDirectory)
        try FileTree(root: h.stateDirectory).writeFileAtomically("""
            {"method":"remove-rescan","functions":["0000:01:00.1","0000:01:00.0"],"bridge":"0000:00:01.0",
             "busDirectory":"devices/pci0000:00/0000:00:01.0/pci_bus/0000:01","addedIDs":["10de 2204","10de 1aef"],
             "targetDriver":"vfio-pci","started":0}
            """, to: "reset-journal.json")
        try sys.tree.createDirectory("devices/pci0000:00/0000:00:01.0/pci_bus/0000:01")
        try sys.tree.writeFileAtomically("", to: "devices/pci0000:00/0000:00:01.0/pci_bus/0000:01/rescan")
        for a in ["0000:01:00.1", "0000:01:00.0"] { try sys.remove(try PCIAddress(parsing: a)) }
        await h.lifecycle.start()
        await h.base.enforcer.reconcileAll(reason: "start")
        #expect(try h.base.driver("0000:01:00.0") == "vfio-pci")
        #expect(try h.base.driver("0000:01:00.1") == "vfio-pci")
        #expect(h.base.alertKinds() == [.resetRepaired])
        #expect(!ResetJournalProbe.exists(h.stateDirectory))
        #expect(h.base.kernel.binds.allSatisfy { $0.hasSuffix(" vfio-pci") })
    }

    @Test func operatorDryRunPrintsThePlanAndWritesNothing() async throws {
        let (sys, config) = try await rtxOnVFIO()
        let h = try LifecycleHarness(sys: sys, config: config)
        let response = await h.lifecycle.operatorReset([try PCIAddress(parsing: "0000:01:00.1")], method: nil, dryRun: true)
        #expect(response.ok)
        #expect(response.lines == [
            "0000:01:00: dry run: would try slot reset (VFIO hot reset, group 1) of 0000:01:00.0, 0000:01:00.1, then remove 0000:01:00.1, 0000:01:00.0 and rescan below 0000:00:01.0",
            "0000:01:00: skipped flr: not in reset_method of 0000:01:00.0, 0000:01:00.1",
            "0000:01:00: skipped bus: the kernel refuses a bus reset of one function while the slot has 2 functions (use slot)",
        ])
        #expect(h.base.kernel.writes.isEmpty && h.base.kernel.resets.isEmpty)
    }
}

enum ResetJournalProbe {
    static func exists(_ stateDirectory: String) -> Bool {
        FileTree(root: stateDirectory).exists(ResetJournal.fileName)
    }
}
