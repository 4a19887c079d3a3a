import GPUMonCore
public import GPUMonPlacement
public import Logging
public import ServiceLifecycle

/// Keeps this host's GPU providers in Placement in step with the devices' states (docs/placement.md): syncs at
/// start, after every state change, every `sync_interval`, and after a failure with back-off (5 s doubling up to
/// `sync_interval`). It only reads the enforcer's status: a slow or dead Placement never holds up enforcement or
/// resets.
public struct PlacementService: Service {
    let sync: PlacementSync
    let enforcer: Enforcer
    let changes: AsyncStream<DeviceChange>
    let interval: Duration
    let alerts: AlertCenter
    let metrics: DaemonMetrics
    let textfile: MetricsTextfile?
    let logger: Logger

    public init(sync: PlacementSync, enforcer: Enforcer, changes: AsyncStream<DeviceChange>, interval: Duration,
        alerts: AlertCenter, metrics: DaemonMetrics, textfile: MetricsTextfile?, logger: Logger) {
        self.sync = sync
        self.enforcer = enforcer
        self.changes = changes
        self.interval = interval
        self.alerts = alerts
        self.metrics = metrics
        self.textfile = textfile
        self.logger = logger
    }

    public func run() async throws {
        metrics.placementEnabled()
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [sync] in
                    for await change in changes {
                        if let address = change.verifiedReset { await sync.recordVerifiedReset(address, at: WallClock.now()) }
                        wake.yield()
                    }
                    wake.finish()
                }
                group.addTask { [interval] in
                    while (try? await Task.sleep(for: interval)) != nil { wake.yield() }
                }
                wake.yield()
                var failures = 0
                for await _ in wakeups {
                    if await syncOnce(failures: failures) {
                        failures = 0
                    } else {
                        failures += 1
                        let delay = min(interval, .seconds(5) * (1 << min(failures - 1, 10)))
                        if (try? await Task.sleep(for: delay)) == nil { break }
                        wake.yield()
                    }
                }
                group.cancelAll()
            }
        }
    }

    /// Returns whether the sync completed.
    private func syncOnce(failures: Int) async -> Bool {
        let status = await enforcer.status()
        let devices = status.devices.filter(\.selected).map(PlacementDeviceInput.init)
        let report = await sync.sync(devices: devices, apply: true)
        let outOfSync = report.items.filter { !$0.inSync && !($0.want == .unchanged && $0.provider == nil) }.count
        metrics.placementSync(completed: report.error == nil, outOfSync: report.error == nil ? outOfSync : max(outOfSync, 1),
            providers: report.items.map { ($0.address.description, $0.provider?.reserved, $0.inSync || $0.want == .unchanged) },
            at: WallClock.now())
        textfile?.markDirty()
        for warning in report.warnings { logger.warning("placement: \(warning)") }
        if let error = report.error {
            // One alert per outage, not one per retry.
            if failures == 0 {
                alerts.raise(Alert(kind: .placementSyncFailed,
                    message: "Placement sync failed: \(error); retrying with back-off", time: WallClock.now()))
            } else {
                logger.info("placement: sync failed again (\(failures + 1) in a row): \(error)")
            }
            return false
        }
        if failures > 0 { logger.notice("placement: reachable again; desired state re-applied") }
        return true
    }
}
