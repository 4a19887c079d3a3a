import GPUMonCore
public import Logging
public import ServiceLifecycle
import Systemd
import UnixSignals

/// Reloads the config on SIGHUP. An invalid new config is rejected with an alert; the running one stays.
public struct ReloadService: Service {
    let configPath: String
    let enforcer: Enforcer
    let lifecycle: VMLifecycle
    let alerts: AlertCenter
    let logger: Logger

    public init(configPath: String, enforcer: Enforcer, lifecycle: VMLifecycle, alerts: AlertCenter, logger: Logger) {
        self.configPath = configPath
        self.enforcer = enforcer
        self.lifecycle = lifecycle
        self.alerts = alerts
        self.logger = logger
    }

    public func run() async throws {
        let notifier = SystemdNotifier()
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            notifier.reloading()
            do {
                let config = try ConfigLoader.load(path: configPath)
                logger.notice("config reloaded", metadata: ["config": "\(configPath)"])
                await enforcer.reload(config)
                await lifecycle.reload(config)
            } catch {
                alerts.raise(Alert(kind: .configRejected,
                    message: "SIGHUP: new config rejected, keeping the running one: \(error)", time: WallClock.now()))
            }
            notifier.notify("READY=1")
        }
    }
}
