import GPUMonCore
public import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Raises alerts: logs them with a stable message ID, counts them, keeps the latest for `status`, and runs the
/// configured `[alerts] command` without waiting for it.
public final class AlertCenter: @unchecked Sendable {
    private let logger: Logger
    private let metrics: DaemonMetrics
    private var command: String?
    private var commandTimeout: Duration
    private let lock = Mutex()
    private var recent: [Alert] = []
    private var runningCommands = 0
    /// More alert commands than this at once are skipped (and logged): a burst must not fork-bomb the host.
    private let maxConcurrentCommands = 4

    public init(logger: Logger, metrics: DaemonMetrics, command: String?, commandTimeout: Duration) {
        self.logger = logger
        self.metrics = metrics
        self.command = command
        self.commandTimeout = commandTimeout
    }

    public func configure(command: String?, timeout: Duration) {
        lock.withLock {
            self.command = command
            self.commandTimeout = timeout
        }
    }

    /// The latest alerts, oldest first.
    public var latest: [Alert] { lock.withLock { recent } }

    public func raise(_ alert: Alert) {
        var metadata: Logger.Metadata = [
            LogKey.alert: "\(alert.kind.rawValue)", LogKey.messageID: "\(alert.kind.messageID)",
        ]
        if let address = alert.address { metadata[LogKey.device] = "\(address)" }
        if let id = alert.id { metadata[LogKey.ids] = "\(id)" }
        if let old = alert.oldDriver { metadata[LogKey.oldDriver] = "\(old)" }
        if let new = alert.newDriver { metadata[LogKey.newDriver] = "\(new)" }
        let level: Logger.Level = alert.kind == .claimFailed || alert.kind == .flapping ? .error : .warning
        logger.log(level: level, "alert: \(alert.message)", metadata: metadata)
        metrics.alert(alert.kind)
        let (program, timeout, start): (String?, Duration, Bool) = lock.withLock {
            recent.append(alert)
            if recent.count > 50 { recent.removeFirst(recent.count - 50) }
            guard let command, runningCommands < maxConcurrentCommands else { return (command, commandTimeout, false) }
            runningCommands += 1
            return (command, commandTimeout, true)
        }
        guard let program else { return }
        guard start else {
            logger.warning("alert command skipped: \(maxConcurrentCommands) already running",
                metadata: [LogKey.alert: "\(alert.kind.rawValue)"])
            return
        }
        var environment = alert.environment
        environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let logger = self.logger
        // Not awaited: a slow or hanging alert command must never hold up enforcement.
        Task.detached { [self] in
            let termination = await ChildProcess.run(program, environment: environment, timeout: timeout)
            if termination != .exited(0) {
                logger.error("alert command \(program) \(termination)",
                    metadata: [LogKey.alert: "\(alert.kind.rawValue)"])
                self.metrics.failure("alert-command")
            }
            self.lock.withLock { self.runningCommands -= 1 }
        }
    }
}

/// A pthread mutex for state shared with detached tasks.
final class Mutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
