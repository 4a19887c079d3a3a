public import Logging
import HostFS

/// Writes the metrics to a node_exporter textfile, atomically, at most once per second: a burst of events
/// becomes one write, and an idle daemon writes nothing.
public final class MetricsTextfile: @unchecked Sendable {
    private let path: String
    private let metrics: DaemonMetrics
    private let logger: Logger
    private let lock = Mutex()
    private var scheduled = false

    public init(path: String, metrics: DaemonMetrics, logger: Logger) {
        self.path = path
        self.metrics = metrics
        self.logger = logger
    }

    public func markDirty() {
        let schedule = lock.withLock { () -> Bool in
            if scheduled { return false }
            scheduled = true
            return true
        }
        guard schedule else { return }
        Task.detached { [self] in
            try? await Task.sleep(for: .seconds(1))
            lock.withLock { scheduled = false }
            writeNow()
        }
    }

    /// Writes immediately (at start and on shutdown).
    public func writeNow() {
        let tree = FileTree(root: "/")
        do {
            try tree.writeFileAtomically(metrics.render(), to: path)
        } catch {
            logger.error("cannot write metrics textfile: \(error)")
        }
    }
}
