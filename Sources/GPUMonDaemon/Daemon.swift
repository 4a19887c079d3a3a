public import GPUMonCore
public import HostFS
public import Logging
import ServiceLifecycle
import UnixSignals
import Systemd
import Udev

/// `gpumon daemon`: wires the event source, the enforcer, the control socket, reloads and the watchdog into one
/// `ServiceGroup` that stops cleanly on SIGTERM/SIGINT.
public struct Daemon {
    public struct Options: Sendable {
        public var configPath: String
        public var sysfs: FileTree
        public var proc: FileTree
        public var dryRun: Bool
        /// Overrides `[daemon] socket` (tests).
        public var socketPath: String?
        public var logLevel: Logger.Level

        public init(configPath: String, sysfs: FileTree, proc: FileTree, dryRun: Bool, socketPath: String?,
            logLevel: Logger.Level) {
            self.configPath = configPath
            self.sysfs = sysfs
            self.proc = proc
            self.dryRun = dryRun
            self.socketPath = socketPath
            self.logLevel = logLevel
        }
    }

    public let options: Options
    public init(options: Options) { self.options = options }

    /// Runs until SIGTERM/SIGINT. Throws on a start-up failure (config, socket, uevent monitor).
    public func run(config: Config) async throws {
        let level = options.logLevel
        var logger = Logger(label: "gpumon") { label in DaemonLogHandler(label: label, level: level) }
        logger.logLevel = level
        let metrics = DaemonMetrics()
        let alerts = AlertCenter(logger: logger, metrics: metrics, command: config.alerts.command,
            commandTimeout: config.alerts.commandTimeout)
        let socketPath = options.socketPath ?? config.daemon.socket
        // First, before touching any device: a second daemon must not act at all.
        let listener = try ControlServer.prepare(path: socketPath)
        let source = Daemon.resolveSource(config.daemon.ueventSource, sysfs: options.sysfs)
        // Listen before the first scan: an event during the initial reconcile is queued, not lost.
        let stream = try UdevEventStream(source: source, subsystem: "pci")
        let environment = Enforcer.Environment(
            sysfs: options.sysfs, proc: options.proc, writer: SysfsAttributeWriter(sysfs: options.sysfs),
            dryRun: options.dryRun, ueventSource: source.rawValue,
            loadModule: { name in
                await ChildProcess.run("/sbin/modprobe", arguments: [name], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                    timeout: .seconds(30)) == .exited(0)
            })
        let enforcer = Enforcer(config: config, environment: environment, logger: logger, metrics: metrics,
            alerts: alerts)
        logger.notice("gpumon daemon starting", metadata: [
            "config": "\(options.configPath)", "uevent_source": "\(source.rawValue)",
            "target_driver": "\(config.daemon.targetDriver)", "dry_run": "\(options.dryRun)",
            "socket": "\(socketPath)",
        ])
        await enforcer.reconcileAll(reason: "start")
        if let path = config.alerts.textfile {
            MetricsTextfile(path: path, metrics: metrics, logger: logger).writeNow()
        }
        let services: [any Service] = [
            UeventService(stream: stream, enforcer: enforcer),
            ControlServer(path: socketPath, listener: listener, enforcer: enforcer, logger: logger),
            ReloadService(configPath: options.configPath, enforcer: enforcer, alerts: alerts, logger: logger),
            WatchdogService(enforcer: enforcer),
        ]
        // service-lifecycle narrates every start and stop at debug; keep that out of a debug log of gpumon's own.
        var groupLogger = logger
        groupLogger.logLevel = max(level, .info)
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: groupLogger))
        SystemdNotifier().ready(status: "watching PCI uevents (\(source.rawValue))")
        logger.notice("ready")
        try await group.run()
        SystemdNotifier().stopping()
        logger.notice("gpumon daemon stopped")
    }

    /// `auto` means udev when systemd-udevd runs (its control socket exists), else the raw kernel source.
    static func resolveSource(_ setting: Config.UeventSource, sysfs: FileTree) -> UdevMonitor.Source {
        switch setting {
        case .udev: return .udev
        case .kernel: return .kernel
        case .auto: return FileTree(root: "/").exists("run/udev/control") ? .udev : .kernel
        }
    }
}
