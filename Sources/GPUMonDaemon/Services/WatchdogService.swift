import Dispatch
import GPUMonCore
public import Logging
public import ServiceLifecycle
import Systemd

/// Pings systemd's watchdog only while the daemon demonstrably makes progress.
///
/// A prober keeps making a round trip through what must keep working: a `ping` request over the daemon's own
/// control socket (accept loop and connection handling) and a read of the enforcer's state (the actor that
/// serves status, uevents and resets; a sysfs read stuck inside it blocks this hop). The pinger sends
/// `WATCHDOG=1` every half interval, but only when a round trip started within the last interval has completed. So
/// a wedged enforcer, a stuck accept loop or an exhausted thread pool stops the pings, and systemd restarts the
/// daemon (`WatchdogSec=`). Without `WatchdogSec=` this service just waits for shutdown: no timer, no wake-ups.
public struct WatchdogService: Service {
    let enforcer: Enforcer
    let controlSocket: String?
    let logger: Logger

    /// - Parameter controlSocket: the daemon's socket, probed with a `ping` request; `nil` skips that hop.
    public init(enforcer: Enforcer, controlSocket: String?, logger: Logger) {
        self.enforcer = enforcer
        self.controlSocket = controlSocket
        self.logger = logger
    }

    public func run() async throws {
        let notifier = SystemdNotifier()
        guard let interval = notifier.watchdogInterval else {
            try? await gracefulShutdown()
            return
        }
        let beat = interval / 2
        let progress = Progress()
        let enforcer = self.enforcer
        let socket = controlSocket
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let started = ContinuousClock.now
                    // Reads actor state, so the call must run on the enforcer's executor.
                    _ = await enforcer.view()
                    var answered = true
                    if let socket {
                        answered = await WatchdogService.offPool {
                            (try? ControlClient.send(ControlRequest(command: "ping"), path: socket, timeout: beat))?.ok
                                ?? false
                        }
                    }
                    if answered { progress.completed(startedAt: started) }
                    do { try await Task.sleep(for: beat) } catch { return }
                }
            }
            var warned = false
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do { try await Task.sleep(for: beat) } catch { break }
                if progress.recent(within: interval) {
                    notifier.watchdog()
                    warned = false
                } else if !warned {
                    warned = true
                    logger.error(
                        "watchdog: no round trip through the control socket and the enforcer completed within \(interval); not pinging systemd")
                }
            }
            group.cancelAll()
        }
    }

    private static let io = DispatchQueue(label: "gpumon.watchdog", attributes: .concurrent)

    /// Blocking socket calls wait on a dispatch thread, never on the concurrency pool.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in io.async { continuation.resume(returning: body()) } }
    }

    /// When the latest completed round trip started.
    private final class Progress: @unchecked Sendable {
        private let lock = Mutex()
        private var lastStart: ContinuousClock.Instant?

        func completed(startedAt: ContinuousClock.Instant) { lock.withLock { lastStart = startedAt } }

        func recent(within interval: Duration) -> Bool {
            lock.withLock { lastStart.map { ContinuousClock.now - $0 <= interval } ?? false }
        }
    }
}
