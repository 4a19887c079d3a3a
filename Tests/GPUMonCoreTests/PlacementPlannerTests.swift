import GPUMonCore
import Testing

@Suite struct PlacementPlannerTests {
    let host = "compute-01"
    let a = PCIAddress(bus: 1, device: 0, function: 0)

    func provider(reserved: Int = 0, used: Int = 0, otu: Bool = false) -> PlacementProvider {
        PlacementProvider(name: "compute-01_0000:01:00.0", uuid: "u1", generation: 3,
            resourceClass: "CUSTOM_PCI_10DE_2204", total: 1, reserved: reserved, used: used, oneTimeUse: otu)
    }

    func plan(_ state: DeviceState, viable: Bool? = true, _ provider: PlacementProvider?,
        ledger: PlacementLedger = PlacementLedger(), trusted: Bool = true, now: Double = 100) -> PlacementPlanner.Plan
    {
        PlacementPlanner.plan(devices: [PlacementDeviceInput(address: a, state: state, groupViable: viable)],
            providers: provider.map { [$0.name: $0] } ?? [:], hostname: host, ledger: ledger, ledgerTrusted: trusted,
            now: now)
    }

    @Test func providerNameIsNovas() {
        #expect(PlacementPlanner.providerName(hostname: "compute-01", address: PCIAddress(domain: 0, bus: 0xaf, device: 0, function: 1))
            == "compute-01_0000:AF:00.1")
    }

    @Test func unschedulableStatesReserve() {
        for state in [DeviceState.quarantined, .stuck, .hostDriver, .unbound, .missing] {
            let item = plan(state, provider()).items[0]
            #expect(item.want == .reserved && item.write == 1, "\(state)")
        }
        #expect(plan(.ok, viable: false, provider()).items[0].write == 1)
        // Already reserved: nothing to write.
        #expect(plan(.quarantined, provider(reserved: 1)).items[0].write == nil)
    }

    @Test func transientStatesLeaveItAlone() {
        var ledger = PlacementLedger()
        ledger.reservedByGPUMon["compute-01_0000:01:00.0"] = 1
        for state in [DeviceState.resetting, .inUse] {
            let item = plan(state, provider(reserved: 1), ledger: ledger).items[0]
            #expect(item.want == .unchanged && item.write == nil, "\(state)")
        }
    }

    @Test func healthyUnreservesOnlyWhatGPUMonReserved() {
        #expect(plan(.ok, provider(reserved: 1)).items[0].write == nil)
        var ledger = PlacementLedger()
        ledger.reservedByGPUMon["compute-01_0000:01:00.0"] = 1
        #expect(plan(.ok, provider(reserved: 1), ledger: ledger).items[0].write == 0)
        // Fail closed: an unreadable ledger unreserves nothing.
        #expect(plan(.ok, provider(reserved: 1), ledger: ledger, trusted: false).items[0].write == nil)
        // Someone lifted it: no longer gpumon's.
        #expect(plan(.ok, provider(reserved: 0), ledger: ledger).ledger.reservedByGPUMon.isEmpty)
    }

    @Test func oneTimeUseNeedsNoAllocationAndAVerifiedResetAfterItWasConsumed() {
        let seen = plan(.ok, provider(reserved: 1, used: 1, otu: true), now: 100)
        #expect(seen.items[0].write == nil)
        #expect(seen.ledger.consumedSince["compute-01_0000:01:00.0"] == 100)
        var ledger = seen.ledger
        // Allocation gone, no reset: stays.
        #expect(plan(.ok, provider(reserved: 1, otu: true), ledger: ledger, now: 200).items[0].write == nil)
        // A reset from before it was consumed does not count.
        ledger.verifiedResets[a.description] = 50
        #expect(plan(.ok, provider(reserved: 1, otu: true), ledger: ledger, now: 200).items[0].write == nil)
        ledger.verifiedResets[a.description] = 150
        #expect(plan(.ok, provider(reserved: 1, used: 1, otu: true), ledger: ledger, now: 200).items[0].write == nil)
        #expect(plan(.ok, provider(reserved: 1, otu: true), ledger: ledger, now: 200).items[0].write == 0)
        #expect(plan(.ok, provider(reserved: 1, otu: true), ledger: ledger, trusted: false, now: 200).items[0].write == nil)
        // Not one-time-use: a Nova-made reservation is never lifted.
        #expect(plan(.ok, provider(reserved: 1), ledger: ledger, now: 200).items[0].write == nil)
    }

    @Test func missingProviderIsReportedNotInSync() {
        let item = plan(.quarantined, nil).items[0]
        #expect(item.provider == nil && !item.inSync && item.want == .reserved)
    }
}
