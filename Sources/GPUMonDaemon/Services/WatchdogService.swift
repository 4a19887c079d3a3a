public import ServiceLifecycle
import Systemd

/// Pings systemd's watchdog at half its interval, but only after the enforcer answered: a wedged enforcer
/// (a sysfs write stuck in the kernel) stops the pings and systemd restarts the daemon. Without `WatchdogSec=`
/// this service just waits for shutdown: no timer, no wake-ups.
public struct WatchdogService: Service {
    let enforcer: Enforcer

    public init(enforcer: Enforcer) { self.enforcer = enforcer }

    public func run() async throws {
        let notifier = SystemdNotifier()
        guard let interval = notifier.watchdogInterval else {
            try? await gracefulShutdown()
            return
        }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await Task.sleep(for: interval / 2)
            } catch {
                return
            }
            if await enforcer.ping() { notifier.watchdog() }
        }
    }
}
