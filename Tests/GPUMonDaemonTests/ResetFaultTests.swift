import Foundation
import GPUMonCore
import GPUMonDaemon
import GPUMonTestSupport
import HostFS
import SystemPackage
import Testing

/// A wall clock and a monotonic clock the test steps.
final class TestClock: DaemonClock, @unchecked Sendable {
    var monotonicNow = 1000.0
    var wallNow = 1_800_000_000.0
    func monotonic() -> Double { monotonicNow }
    func wall() -> Double { wallNow }
    func advance(_ seconds: Double) {
        monotonicNow += seconds
        wallNow += seconds
    }
}

/// The fault kinds every step is tried with.
let faultKinds: [(String, FaultyKernel.Fault)] = [
    ("EIO", .fail(.ioError)), ("ENODEV", .fail(.noSuchAddressOrDevice)), ("EBUSY", .fail(.resourceBusy)),
    ("hang", .hang), ("vanish", .vanish(nil)),
]

/// One fault-injection scenario: a host, a config, what to run, which functions it selects.
struct FaultScenario: Sendable, CustomStringConvertible {
    let name: String
    let host: @Sendable () throws -> FakeSysfs
    let config: String
    let selected: [String]
    /// `reset ADDR --method M`, or `nil` for the enforcer's claim at start.
    let reset: (String, ResetMethod)?
    var ignoresOverride = false
    var description: String { name }
}

/// More than the longest clean run's writes (the claim through new_id: 14).
let maxWrites = 16

let quick = "[reset]\nmin_interval = \"0s\"\ndedupe_window = \"0s\"\nstep_timeout = \"1s\"\nsettle_timeout = \"300ms\"\n"

let faultScenarios: [FaultScenario] = [
    FaultScenario(name: "flr", host: { try HostFixtures.datacenterHost() },
        config: quick + "[[gpu]]\nids = [\"10de:20b5\"]\n", selected: ["0000:41:00.0"], reset: ("0000:41:00.0", .flr)),
    FaultScenario(name: "bus", host: { try HostFixtures.datacenterHost() },
        config: quick + "[[gpu]]\nids = [\"10de:20b5\"]\n", selected: ["0000:41:00.0"], reset: ("0000:41:00.0", .bus)),
    FaultScenario(name: "slot", host: { try rtxHostOnVFIO() },
        config: quick + "[[gpu]]\nids = [\"10de:2204\"]\n", selected: ["0000:01:00.0", "0000:01:00.1"],
        reset: ("0000:01:00.0", .slot)),
    FaultScenario(name: "remove-rescan", host: { try rtxHostOnVFIO() },
        config: quick + "[[gpu]]\nids = [\"10de:2204\"]\n", selected: ["0000:01:00.0", "0000:01:00.1"],
        reset: ("0000:01:00.0", .removeRescan)),
    // The console card has the passthrough card's IDs and is unbound: every new_id captures it.
    FaultScenario(name: "remove-rescan beside an unbound same-ID boot VGA", host: { try sharedIDsUnboundConsole() },
        config: quick + "[[gpu]]\naddresses = [\"0000:02:00.0\"]\n", selected: ["0000:02:00.0", "0000:02:00.1"],
        reset: ("0000:02:00.0", .removeRescan)),
    FaultScenario(name: "claim", host: { try HostFixtures.rtxHost() },
        config: quick + "[[gpu]]\nids = [\"10de:2204\"]\n", selected: ["0000:01:00.0", "0000:01:00.1"], reset: nil),
    FaultScenario(name: "claim through new_id beside an unbound same-ID boot VGA",
        host: { try HostFixtures.sharedIDsBootVGAHost(bootVGADriver: nil, bootAudioDriver: nil) },
        config: quick + "[[gpu]]\naddresses = [\"0000:02:00.0\"]\n", selected: ["0000:02:00.0", "0000:02:00.1"],
        reset: nil, ignoresOverride: true),
]

func rtxHostOnVFIO() throws -> FakeSysfs {
    let sys = try HostFixtures.rtxHost()
    for a in ["0000:01:00.0", "0000:01:00.1"] { try sys.bind(try PCIAddress(parsing: a), to: "vfio-pci") }
    return sys
}

func sharedIDsUnboundConsole() throws -> FakeSysfs {
    let sys = try HostFixtures.sharedIDsBootVGAHost(bootVGADriver: nil, bootAudioDriver: nil)
    for a in ["0000:02:00.0", "0000:02:00.1"] { try sys.bind(try PCIAddress(parsing: a), to: "vfio-pci") }
    return sys
}

@Suite struct ResetFaultTests {
    /// Runs the scenario once with `fault` at write `index` (or none) and checks the invariants. Returns how many
    /// writes were attempted.
    @discardableResult
    func run(_ scenario: FaultScenario, fault: FaultyKernel.Fault?, at index: Int?, hotReset: Bool = false,
        label: String) async throws -> Int
    {
        let sys = try scenario.host()
        let h = try LifecycleHarness(sys: sys, config: scenario.config, stepTimeout: .seconds(1),
            settleTimeout: .milliseconds(300), ignoresOverride: scenario.ignoresOverride)
        defer { h.base.faulty.releaseHung() }
        h.base.faulty.vanishFallback = try PCIAddress(parsing: scenario.selected[0])
        let topology = try PCISysfs(sysfs: sys.tree).scan().topology
        let selected = Set(try scenario.selected.map { try PCIAddress(parsing: $0) })
        let unselected = topology.devices.filter { !selected.contains($0.address) }
        let before = Dictionary(uniqueKeysWithValues: unselected.map { ($0.address, $0.driver) })
        let overridesBefore = Dictionary(uniqueKeysWithValues: unselected.map { ($0.address, $0.driverOverride) })
        if let (address, method) = scenario.reset {
            await h.base.enforcer.reconcileAll(reason: "start")
            h.base.kernel.resetLog()
            h.base.faulty.resetLog()
            if let fault {
                if hotReset { h.base.faulty.hotResetFault = fault } else if let index { h.base.faulty.faults = [index: fault] }
            }
            _ = try await h.reset(address, method: method)
        } else {
            if let fault, let index { h.base.faulty.faults = [index: fault] }
            await h.base.enforcer.reconcileAll(reason: "start")
        }
        let context = Comment(rawValue: "\(scenario.name), \(label): writes \(h.base.faulty.attempts)")

        // 1. Every selected function is present, healthy and on vfio-pci — or the slot is quarantined (a reset)
        //    or the claim failed (the enforcer), with an alert either way.
        var healthy = true
        for address in selected {
            guard let device = try? PCISysfs(sysfs: sys.tree).read(address) else {
                healthy = false
                continue
            }
            if device.driver != "vfio-pci" || device.configVendorID == 0xffff { healthy = false }
        }
        if !healthy {
            let kinds = Set(h.base.alertKinds())
            if scenario.reset != nil {
                #expect(kinds.contains(.quarantined), context)
                // Functions still selected (a companion whose GPU vanished is no longer selected, nor touched).
                let stillSelected = await h.base.enforcer.view().selection
                for address in selected where stillSelected.isSelected(address) {
                    #expect(await h.state(address.description) == .quarantined, context)
                }
            } else {
                // A claim: a function that vanished (the fault removed it) is the hardware's doing, reported as
                // missing; one still present must be on vfio-pci or have a claim-failed alert.
                let present = selected.filter { sys.tree.exists("bus/pci/devices/\($0)") }
                let unclaimed = present.filter { h.base.kernel.driver(of: $0) != "vfio-pci" }
                if !unclaimed.isEmpty { #expect(kinds.contains(.claimFailed), context) }
            }
        }
        // 2. No unselected function was written, except to hand back one a dynamic ID captured; each ends on
        //    the driver and override it had.
        for attempt in h.base.faulty.attempts {
            // The parent bridge's secondary-bus rescan is the method itself (it names the bridge, writes nothing of it).
            if attempt.contains("/pci_bus/") && attempt.hasSuffix("/rescan <- 1") { continue }
            for address in FaultyKernel.addressesNamed(by: attempt) where !selected.contains(address) {
                #expect(attempt.hasPrefix("bus/pci/drivers/vfio-pci/unbind"),
                    "unselected \(address) written: \(attempt); \(context)")
            }
        }
        for (address, driver) in before {
            #expect(h.base.kernel.driver(of: address) == driver, "unselected \(address) changed driver; \(context)")
            let override = try PCISysfs(sysfs: sys.tree).read(address)?.driverOverride
            #expect(override == overridesBefore[address] ?? nil, "unselected \(address) override changed; \(context)")
        }
        // 3. No dynamic ID outlives the reset or the claim, and no journal is left behind.
        let leftIDs = h.base.kernel.dynamicIDs.filter { !$0.value.isEmpty }
        #expect(leftIDs.isEmpty, "dynamic IDs left: \(leftIDs); \(context)")
        #expect(!ResetJournalProbe.exists(h.stateDirectory), context)
        return h.base.faulty.count
    }

    /// Every scenario, every write index (up to the longest clean run), every fault kind. The cases run in
    /// parallel: most of their time is the timeouts a fault causes.
    @Test(arguments: faultScenarios, 0..<maxWrites)
    func aFailureAtEachStepEndsHealthyOrQuarantined(_ scenario: FaultScenario, index: Int) async throws {
        let writes = try await run(scenario, fault: nil, at: nil, label: "no fault")
        #expect(writes < maxWrites, "raise maxWrites to cover every write of \(scenario.name)")
        if index == 0 { #expect(writes > 0 || scenario.name == "slot", "the clean run writes something") }
        if index < writes {
            for (name, fault) in faultKinds {
                try await run(scenario, fault: fault, at: index, label: "\(name) at write \(index)")
            }
        }
        if scenario.name == "slot" && index == 0 {
            for (name, fault) in faultKinds {
                try await run(scenario, fault: fault, at: nil, hotReset: true, label: "\(name) in the hot reset")
            }
        }
    }
}
