public import GPUMonCore
import GPUMonPlacement
public import Logging
public import ServiceLifecycle

extension Daemon {
    /// The services that tell the fleet about the devices: per-device metrics always, the Placement sync when
    /// `[placement] url` is set. Both follow the enforcer through `feed`.
    public static func fleetServices(config: Config, options: Options, enforcer: Enforcer, feed: DeviceChangeFeed,
        alerts: AlertCenter, metrics: DaemonMetrics, logger: Logger) async -> [any Service]
    {
        await enforcer.setChangeFeed(feed)
        // A dry run writes nothing at all, the metrics file included.
        let textfile = options.dryRun ? nil
            : config.alerts.textfile.map { MetricsTextfile(path: $0, metrics: metrics, logger: logger) }
        var services: [any Service] = [
            DeviceMetricsService(enforcer: enforcer, metrics: metrics, textfile: textfile, changes: feed.subscribe())
        ]
        guard config.placement.enabled else { return services }
        guard let hostname = HypervisorHostname.resolve(configured: config.placement.hypervisorHostname) else {
            alerts.raise(Alert(kind: .placementSyncFailed,
                message: "cannot tell this host's name for Placement; set [placement] hypervisor_hostname",
                time: WallClock.now()))
            return services
        }
        let transport = AsyncHTTPTransport()
        let client = PlacementClient(placement: config.placement, transport: transport,
            authenticator: Authenticator(placement: config.placement, transport: transport))
        let sync = PlacementSync(client: client, hostname: hostname,
            stateDirectory: options.stateDirectory ?? config.daemon.stateDir, dryRun: options.dryRun, logger: logger)
        logger.notice("placement: syncing providers of \(hostname) with \(config.placement.url ?? "")",
            metadata: ["auth": "\(config.placement.auth.rawValue)"])
        services.append(PlacementService(sync: sync, enforcer: enforcer, changes: feed.subscribe(),
            interval: config.placement.syncInterval, alerts: alerts, metrics: metrics, textfile: textfile,
            logger: logger))
        return services
    }
}
