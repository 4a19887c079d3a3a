public import GPUMonCore
public import Logging
public import ServiceLifecycle
import Systemd
import UnixSignals

/// Reloads the config on SIGHUP: all of it or nothing. An invalid new config, or one that changes a key the running
/// daemon cannot change in place (``restartKeys(from:to:)``), is rejected with an alert naming the problem or the
/// keys; the running config stays, whole. Nothing is ever applied in part.
public struct ReloadService: Service {
    let configPath: String
    let initial: Config
    let enforcer: Enforcer
    let lifecycle: VMLifecycle
    let alerts: AlertCenter
    let logger: Logger

    public init(configPath: String, initial: Config, enforcer: Enforcer, lifecycle: VMLifecycle, alerts: AlertCenter,
        logger: Logger) {
        self.configPath = configPath
        self.initial = initial
        self.enforcer = enforcer
        self.lifecycle = lifecycle
        self.alerts = alerts
        self.logger = logger
    }

    /// The keys whose new value only a restart applies: they were wired into long-lived parts at start (the
    /// control socket, the uevent monitor, the state files, the log watches, the reset engine, the alert command,
    /// the textfile). In config-file spelling, in file order.
    public static func restartKeys(from old: Config, to new: Config) -> [String] {
        var keys: [String] = []
        func check(_ changed: Bool, _ key: String) { if changed { keys.append(key) } }
        check(old.daemon.targetDriver != new.daemon.targetDriver, "[daemon] target_driver")
        check(old.daemon.socket != new.daemon.socket, "[daemon] socket")
        check(old.daemon.stateDir != new.daemon.stateDir, "[daemon] state_dir")
        check(old.daemon.ueventSource != new.daemon.ueventSource, "[daemon] uevent_source")
        check(old.reset.stepTimeout != new.reset.stepTimeout, "[reset] step_timeout")
        check(old.reset.settleTimeout != new.reset.settleTimeout, "[reset] settle_timeout")
        check(old.libvirt.logDirs != new.libvirt.logDirs, "[libvirt] log_dirs")
        check(old.alerts.command != new.alerts.command, "[alerts] command")
        check(old.alerts.commandTimeout != new.alerts.commandTimeout, "[alerts] command_timeout")
        check(old.alerts.textfile != new.alerts.textfile, "[alerts] textfile")
        return keys
    }

    public func run() async throws {
        let notifier = SystemdNotifier()
        var running = initial
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            notifier.reloading()
            do {
                let config = try ConfigLoader.load(path: configPath)
                let restart = ReloadService.restartKeys(from: running, to: config)
                if restart.isEmpty {
                    logger.notice("config reloaded", metadata: ["config": "\(configPath)"])
                    await enforcer.reload(config)
                    await lifecycle.reload(config)
                    running = config
                } else {
                    alerts.raise(Alert(kind: .configRejected,
                        message: "SIGHUP: new config not applied, keeping the running one: "
                            + "\(restart.joined(separator: ", ")) changed and need a restart (systemctl restart gpumon)",
                        time: WallClock.now()))
                }
            } catch {
                alerts.raise(Alert(kind: .configRejected,
                    message: "SIGHUP: new config rejected, keeping the running one: \(error)", time: WallClock.now()))
            }
            notifier.notify("READY=1")
        }
    }
}
