internal import CSystemd

/// Talks to the service manager through `sd_notify(3)`: readiness, status text, watchdog pings.
///
/// Outside systemd (`$NOTIFY_SOCKET` unset) every call is a no-op, so the daemon runs the same either way.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Sends raw `KEY=value` lines; returns whether a service manager received them.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    public func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { notify("STATUS=\(text)") }
    public func stopping() { notify("STOPPING=1") }
    public func reloading() { notify("RELOADING=1") }
    public func watchdog() { notify("WATCHDOG=1") }

    /// The watchdog interval systemd expects pings within (`WatchdogSec=`), or `nil` when not enabled.
    ///
    /// The corresponding C function is `sd_watchdog_enabled`.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }
}
