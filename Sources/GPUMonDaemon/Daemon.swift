public import GPUMonCore
public import HostFS
public import Logging
import ServiceLifecycle
import UnixSignals
import Systemd
import Udev
import VFIO

#if canImport(Glibc)
import Glibc
#endif

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
        /// Overrides `[daemon] state_dir` (tests).
        public var stateDirectory: String?
        public var logLevel: Logger.Level

        public init(configPath: String, sysfs: FileTree, proc: FileTree, dryRun: Bool, socketPath: String?,
            stateDirectory: String? = nil, logLevel: Logger.Level) {
            self.stateDirectory = stateDirectory
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
        // A peer that goes away (a control client, an alert command's pipe) must never kill the daemon: writes
        // then fail with EPIPE, which each caller handles. The control socket also sends with MSG_NOSIGNAL.
        signal(SIGPIPE, SIG_IGN)
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
        let lifecycle = Daemon.makeLifecycle(config: config, options: options, enforcer: enforcer, alerts: alerts,
            metrics: metrics, logger: logger)
        // Quarantines and an interrupted reset first: the first reconcile must already leave a quarantined slot
        // alone, and a half-done remove+rescan is repaired before anything else acts on the slot.
        await lifecycle.start()
        await enforcer.reconcileAll(reason: "start")
        if let path = config.alerts.textfile, !options.dryRun {
            MetricsTextfile(path: path, metrics: metrics, logger: logger).writeNow()
        }
        let fleet = await Daemon.fleetServices(config: config, options: options, enforcer: enforcer,
            feed: DeviceChangeFeed(), alerts: alerts, metrics: metrics, logger: logger)
        let services: [any Service] = fleet + [
            UeventService(stream: stream, enforcer: enforcer),
            ControlServer(path: socketPath, listener: listener, enforcer: enforcer, lifecycle: lifecycle, logger: logger),
            ReloadService(configPath: options.configPath, initial: config, enforcer: enforcer, lifecycle: lifecycle,
                alerts: alerts, logger: logger),
            WatchdogService(enforcer: enforcer, controlSocket: socketPath, logger: logger),
            KernelLogService(lifecycle: lifecycle, logger: logger),
            VMLifecycle.HandlingService(lifecycle: lifecycle),
            VMProcessWatcher(proc: options.proc, enforcer: enforcer, lifecycle: lifecycle, logger: logger),
            DomainLogWatcher(
                directories: config.libvirt.logDirs, stateDirectory: options.stateDirectory ?? config.daemon.stateDir,
                logger: logger, persistPositions: !options.dryRun, onRelease: { signal in await lifecycle.submit(signal) }),
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

    /// The VM-lifecycle side: reset engine, budget store, coordinator. Also used by `gpumon reset` without a daemon.
    public static func makeLifecycle(config: Config, options: Options, enforcer: Enforcer, alerts: AlertCenter,
        metrics: DaemonMetrics, logger: Logger) -> VMLifecycle
    {
        let stateDirectory = options.stateDirectory ?? config.daemon.stateDir
        let order = DriverRegistrationOrder.system(proc: options.proc)
        let targetModule = String(config.daemon.targetDriver.map { $0 == "-" ? "_" : $0 })
        var environment = ResetEngine.Environment(
            sysfs: options.sysfs, proc: options.proc, writer: SysfsAttributeWriter(sysfs: options.sysfs),
            targetDriver: config.daemon.targetDriver, stateDirectory: stateDirectory, dryRun: options.dryRun,
            stepTimeout: config.reset.stepTimeout, settleTimeout: config.reset.settleTimeout,
            hotReset: { group, device, groups in
                do {
                    try VFIOHotReset.reset(group: group, device: device, groups: groups)
                    return nil
                } catch {
                    return "\(error)"
                }
            },
            earlierDrivers: { modalias in order.earlierMatchingModules(modalias: modalias, targetModule: targetModule) })
        environment.holdGroup = { group in
            do throws(VFIOError) {
                let hold = try VFIOGroupHold(group: group)
                return .held({ hold.release() })
            } catch {
                return error.errno == EBUSY ? .busy("/dev/vfio/\(group) is open in another process (\(error))")
                    : .unavailable
            }
        }
        let engine = ResetEngine(environment: environment)
        return VMLifecycle(config: config, enforcer: enforcer, engine: engine,
            store: ResetBudgetStore(stateDirectory: stateDirectory), alerts: alerts, metrics: metrics, logger: logger,
            dryRun: options.dryRun)
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

extension Daemon {
    /// An enforcer and a lifecycle coordinator without event sources, for one-shot commands (`gpumon reset`,
    /// `gpumon clear`) when no daemon runs.
    public static func standalone(config: Config, options: Options) async -> VMLifecycle {
        let level = options.logLevel
        let logger = Logger(label: "gpumon") { label in DaemonLogHandler(label: label, level: level, structured: false) }
        let metrics = DaemonMetrics()
        let alerts = AlertCenter(logger: logger, metrics: metrics, command: nil, commandTimeout: .seconds(1))
        let environment = Enforcer.Environment(
            sysfs: options.sysfs, proc: options.proc, writer: SysfsAttributeWriter(sysfs: options.sysfs),
            dryRun: options.dryRun, ueventSource: "none", loadModule: { _ in false })
        let enforcer = Enforcer(config: config, environment: environment, logger: logger, metrics: metrics,
            alerts: alerts)
        return makeLifecycle(config: config, options: options, enforcer: enforcer, alerts: alerts, metrics: metrics,
            logger: logger)
    }
}
