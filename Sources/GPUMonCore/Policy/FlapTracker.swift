/// Counts host-driver grabs per function and decides when to stop fighting: more than `limit` grabs within
/// `window` puts the function in back-off for `backoff`. Time is passed in, so the logic is pure.
public struct FlapTracker: Sendable {
    public var limit: Int
    public var window: Duration
    public var backoff: Duration
    private var grabs: [PCIAddress: [ContinuousClock.Instant]] = [:]
    private var backedOffUntil: [PCIAddress: ContinuousClock.Instant] = [:]

    public init(limit: Int, window: Duration, backoff: Duration) {
        self.limit = limit
        self.window = window
        self.backoff = backoff
    }

    /// Records a grab; returns `true` when this grab starts a back-off.
    public mutating func recordGrab(_ address: PCIAddress, at now: ContinuousClock.Instant) -> Bool {
        var times = grabs[address, default: []].filter { now - $0 < window }
        times.append(now)
        grabs[address] = times
        if times.count > limit, !isBackedOff(address, at: now) {
            backedOffUntil[address] = now + backoff
            grabs[address] = []
            return true
        }
        return false
    }

    public func isBackedOff(_ address: PCIAddress, at now: ContinuousClock.Instant) -> Bool {
        guard let until = backedOffUntil[address] else { return false }
        return now < until
    }

    /// Functions in back-off at `now`.
    public func backedOff(at now: ContinuousClock.Instant) -> Set<PCIAddress> {
        Set(backedOffUntil.filter { now < $0.value }.keys)
    }

    /// Grabs counted in the current window.
    public func recentGrabs(_ address: PCIAddress, at now: ContinuousClock.Instant) -> Int {
        grabs[address, default: []].filter { now - $0 < window }.count
    }

    /// When the earliest back-off ends, for scheduling a re-check.
    public func nextBackoffEnd(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        backedOffUntil.values.filter { $0 > now }.min()
    }
}
