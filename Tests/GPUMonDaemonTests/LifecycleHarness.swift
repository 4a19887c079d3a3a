import Foundation
import GPUMonCore
import GPUMonDaemon
import GPUMonTestSupport
import HostFS
import Logging

/// The harness plus a VM-lifecycle coordinator whose reset engine writes through the fake kernel.
struct LifecycleHarness {
    let base: Harness
    let lifecycle: VMLifecycle
    let stateDirectory: String
    let metrics = DaemonMetrics()

    init(sys: FakeSysfs, config text: String, earlierDrivers: @escaping @Sendable (String) -> [String] = { _ in [] },
        stateDirectory: String? = nil, dryRun: Bool = false, stepTimeout: Duration = .seconds(5),
        settleTimeout: Duration = .seconds(2), clock: any DaemonClock = SystemClock(),
        ignoresOverride: Bool = false) throws
    {
        base = try Harness(sys: sys, config: text, dryRun: dryRun, ignoresOverride: ignoresOverride)
        let state = stateDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("gpumon-state-\(UUID().uuidString)").path
        self.stateDirectory = state
        let faulty = base.faulty
        let engine = ResetEngine(environment: .init(
            sysfs: sys.tree, proc: base.proc.tree, writer: base.faulty, targetDriver: "vfio-pci", stateDirectory: state,
            dryRun: dryRun, stepTimeout: stepTimeout, settleTimeout: settleTimeout,
            hotReset: { group, device, _ in faulty.hotReset(group: group, device: device) },
            earlierDrivers: earlierDrivers))
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        lifecycle = VMLifecycle(config: base.config, enforcer: base.enforcer, engine: engine,
            store: ResetBudgetStore(stateDirectory: state), alerts: base.alerts, metrics: metrics,
            logger: logger, dryRun: dryRun, clock: clock)
    }

    func reset(_ address: String, method: ResetMethod? = nil) async throws -> ControlResponse {
        await lifecycle.operatorReset([try PCIAddress(parsing: address)], method: method, dryRun: false)
    }

    /// A VM run began on `addresses` (log header, hook prepare, or a process opening the group).
    func start(_ addresses: [String], source: ReleaseSignal.Source = .hook, domain: String = "instance-0000001a")
        async throws
    {
        await lifecycle.release(ReleaseSignal(source: source, domain: domain,
            addresses: try addresses.map { try PCIAddress(parsing: $0) }, reason: "prepare begin", kind: .started))
    }

    /// One whole VM run: a start, then a stop.
    func run(_ addresses: [String], source: ReleaseSignal.Source = .log) async throws {
        try await start(addresses)
        try await stop(addresses, source: source)
    }

    func stop(_ addresses: [String], source: ReleaseSignal.Source = .log) async throws {
        await lifecycle.release(ReleaseSignal(source: source, domain: "instance-0000001a",
            addresses: try addresses.map { try PCIAddress(parsing: $0) }, reason: "destroyed"))
    }

    func state(_ address: String) async -> DeviceState? {
        await base.enforcer.status().devices.first { $0.address.description == address }?.state
    }
}
