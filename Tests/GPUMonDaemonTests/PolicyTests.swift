import GPUMonDaemon
import GPUMonCore
import Testing

@Suite struct PolicyTests {
    let gpu = PCIAddress(bus: 1, device: 0, function: 0)

    @Test func flapTrackerBacksOffPastTheLimitWithinTheWindow() {
        var tracker = FlapTracker(limit: 2, window: .seconds(60), backoff: .seconds(600))
        let t0 = ContinuousClock.now
        let first = tracker.recordGrab(gpu, at: t0)
        let second = tracker.recordGrab(gpu, at: t0 + .seconds(10))
        let third = tracker.recordGrab(gpu, at: t0 + .seconds(20))
        #expect(!first && !second && third)
        #expect(tracker.isBackedOff(gpu, at: t0 + .seconds(21)))
        #expect(!tracker.isBackedOff(gpu, at: t0 + .seconds(621)))
        #expect(tracker.nextBackoffEnd(after: t0 + .seconds(30)) == t0 + .seconds(620))
    }

    @Test func grabsOutsideTheWindowDoNotCount() {
        var tracker = FlapTracker(limit: 2, window: .seconds(60), backoff: .seconds(600))
        let t0 = ContinuousClock.now
        for minute in 0..<10 {
            let backedOff = tracker.recordGrab(gpu, at: t0 + .seconds(minute * 61))
            #expect(!backedOff)
        }
        #expect(tracker.recentGrabs(gpu, at: t0 + .seconds(9 * 61)) == 1)
    }

    @Test func pciEventParsesTheUeventsOwnProperties() {
        let event = PCIEvent(action: "bind", sysname: "0000:01:00.0", properties: [
            "ACTION": "bind", "DRIVER": "nouveau", "PCI_SLOT_NAME": "0000:01:00.0", "PCI_ID": "10DE:2204",
        ])
        #expect(event == PCIEvent(action: .bind, address: gpu, driver: "nouveau", id: PCIID(vendor: 0x10de, device: 0x2204)))
        #expect(PCIEvent(action: "bind", sysname: "pci0000:00", properties: [:]) == nil)
        #expect(PCIEvent(action: "frobnicate", sysname: "0000:01:00.0", properties: [:]) == nil)
        #expect(PCIEvent(action: "unbind", sysname: "0000:01:00.0", properties: ["DRIVER": ""])?.driver == nil)
    }

    @Test func reconcilerKeepsGroupsTogetherAndRespectsHolders() throws {
        let config = try ConfigLoader.parse("[[gpu]]\nids = [\"10de:2204\"]\n", file: "t")
        let topology = PCITopology(devices: [
            PCIDevice(address: gpu, id: PCIID(vendor: 0x10de, device: 0x2204), pciClass: PCIClass(rawValue: 0x030000),
                driver: "nvidia", iommuGroup: 3),
            PCIDevice(address: PCIAddress(bus: 1, device: 0, function: 1), id: PCIID(vendor: 0x10de, device: 0x1aef),
                pciClass: PCIClass(rawValue: 0x040300), driver: "vfio-pci", driverOverride: "vfio-pci", iommuGroup: 3),
        ])
        let selection = SelectionResolver.resolve(config, topology: topology)
        let free = Reconciler.plan(config: config, topology: topology, selection: selection,
            observations: .init(targetDriverRegistered: false))
        #expect(free.items.map(\.decision) == [.claim(from: "nvidia"), .keep])
        #expect(free.loadTargetDriver)
        // An event about the audio function plans for its whole group.
        let limited = Reconciler.plan(config: config, topology: topology, selection: selection,
            observations: .init(), limit: [PCIAddress(bus: 1, device: 0, function: 1)])
        #expect(limited.items.count == 2)
        let held = Reconciler.plan(config: config, topology: topology, selection: selection,
            observations: .init(inUseGroups: [3]))
        #expect(held.items.map(\.decision) == [.leaveInUse(group: 3), .leaveInUse(group: 3)])
        #expect(held.actionable.isEmpty)
    }
}

@Suite struct MetricsTests {
    @Test func textfileNamesAreTheDocumentedOnes() {
        let metrics = DaemonMetrics()
        let gpu = PCIAddress(bus: 1, device: 0, function: 0)
        metrics.hostDriverGrab(gpu, driver: "nouveau")
        metrics.deviceStates([.ok: 2])
        metrics.reconciled(at: 1_800_000_000)
        metrics.reset(gpu, method: "slot", succeeded: true, seconds: 0.075)
        let text = metrics.render()
        for line in [
            "gpumon_up 1.0",
            #"gpumon_host_driver_grabs_total{address="0000:01:00.0",driver="nouveau"} 1"#,
            #"gpumon_devices{state="ok"} 2.0"#,
            #"gpumon_resets_total{address="0000:01:00.0",method="slot",result="ok"} 1"#,
            #"gpumon_last_reset_seconds{address="0000:01:00.0"} 0.075"#,
            "# TYPE gpumon_last_reconcile_timestamp_seconds gauge",
        ] {
            #expect(text.contains(line), "missing \(line) in:\n\(text)")
        }
    }
}
