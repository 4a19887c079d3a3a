import GPUMonCore
public import ServiceLifecycle

/// Keeps the per-device metrics (`gpumon_device_state`, `gpumon_device_info`) current and rewrites the textfile
/// at least every `heartbeat`, so a file older than a few minutes means the daemon is dead or wedged
/// (the `GPUMonTextfileStale` alert).
public struct DeviceMetricsService: Service {
    let enforcer: Enforcer
    let metrics: DaemonMetrics
    let textfile: MetricsTextfile?
    let changes: AsyncStream<DeviceChange>
    let heartbeat: Duration

    public init(enforcer: Enforcer, metrics: DaemonMetrics, textfile: MetricsTextfile?, changes: AsyncStream<DeviceChange>,
        heartbeat: Duration = .seconds(60)) {
        self.enforcer = enforcer
        self.metrics = metrics
        self.textfile = textfile
        self.changes = changes
        self.heartbeat = heartbeat
    }

    public func run() async throws {
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in changes { wake.yield() }
                    wake.finish()
                }
                // Without a textfile there is nothing to keep fresh: no timer, no wake-ups.
                if textfile != nil {
                    group.addTask { [heartbeat] in
                        while (try? await Task.sleep(for: heartbeat)) != nil { wake.yield() }
                    }
                }
                wake.yield()
                for await _ in wakeups {
                    let report = await enforcer.status()
                    metrics.devices(report.devices, flapping: Set(report.daemon?.flapping ?? []))
                    metrics.heartbeat(at: WallClock.now())
                    textfile?.markDirty()
                }
                group.cancelAll()
            }
        }
    }
}
