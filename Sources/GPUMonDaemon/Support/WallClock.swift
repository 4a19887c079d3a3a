#if canImport(Glibc)
import Glibc
#endif

/// Seconds since the Unix epoch, for timestamps people and Prometheus read (alerts, logs). Never for intervals:
/// the wall clock steps (NTP, an operator's `date`), backwards too.
public enum WallClock {
    public static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// The two clocks the VM-lifecycle side needs, injected so tests can step them.
///
/// - ``monotonic()`` measures intervals within one run (dedupe window, waits): it never steps.
/// - ``wall()`` stamps what is persisted (the reset history must survive a restart, which a monotonic clock
///   cannot span); ``ResetBudget/normalize(now:)`` handles it stepping backwards.
public protocol DaemonClock: Sendable {
    /// Seconds on a clock that never steps (CLOCK_BOOTTIME: it keeps counting across a suspend, so an interval
    /// spanning one is not shortened).
    func monotonic() -> Double
    /// Seconds since the Unix epoch.
    func wall() -> Double
}

/// The host's clocks.
public struct SystemClock: DaemonClock {
    public init() {}

    public func monotonic() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_BOOTTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    public func wall() -> Double { WallClock.now() }
}
