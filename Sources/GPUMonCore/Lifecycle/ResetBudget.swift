/// The per-function reset budget: at most `maxResets` within `window`, never two closer than `minInterval`, and
/// quarantine once the budget is spent. Times are wall-clock seconds so the history survives a restart (it is
/// persisted in `state_dir`); a wall clock stepped backwards is handled by ``normalize(now:)``. Pure: callers
/// pass `now`.
public struct ResetBudget: Sendable, Equatable, Codable {
    /// Why a function is quarantined.
    public struct Quarantine: Sendable, Equatable, Codable {
        public var since: Double
        public var reason: String

        public init(since: Double, reason: String) {
            self.since = since
            self.reason = reason
        }
    }

    /// What the budget allows now.
    public enum Verdict: Sendable, Equatable {
        case allowed
        /// The last reset was less than `minInterval` ago; allowed again at `until`.
        case tooSoon(until: Double)
        /// `maxResets` resets within the window already: quarantine.
        case exhausted
        /// Quarantined earlier; untouched until `gpumon clear`.
        case quarantined(Quarantine)
    }

    public var history: [String: [Double]] = [:]
    public var quarantined: [String: Quarantine] = [:]
    /// Set when the stored history was lost (a corrupt `resets.json`): nobody knows how often any GPU was reset,
    /// so automatic resets of every slot are refused until `gpumon clear` names it. Optional so older files
    /// (without the key) still decode.
    public var historyLost: Quarantine?
    /// Functions `gpumon clear` released from ``historyLost``.
    public var historyLostCleared: [String]?

    public init() {}

    /// Whether automatic resets of `address` are refused because the history was lost.
    public func refusedForLostHistory(_ address: PCIAddress) -> Quarantine? {
        guard let lost = historyLost, !(historyLostCleared ?? []).contains(address.description) else { return nil }
        return lost
    }

    /// Handles a wall clock stepped backwards: a recorded reset in the future would otherwise keep `minInterval`
    /// deferring resets for as long as the step (hours, after an NTP correction). Such entries are moved to `now`,
    /// so they still count against the budget (fail closed) and the interval runs from the moment the step was
    /// noticed. Returns whether anything changed (the caller persists it).
    @discardableResult
    public mutating func normalize(now: Double) -> Bool {
        var changed = false
        for (key, stamps) in history where stamps.contains(where: { $0 > now }) {
            history[key] = stamps.map { min($0, now) }
            changed = true
        }
        return changed
    }

    public func verdict(
        for address: PCIAddress, now: Double, maxResets: Int, window: Duration, minInterval: Duration
    ) -> Verdict {
        let key = address.description
        if let quarantine = quarantined[key] { return .quarantined(quarantine) }
        if let lost = refusedForLostHistory(address) { return .quarantined(lost) }
        let recent = (history[key] ?? []).filter { now - $0 < window.seconds }
        if let last = recent.max(), now - last < minInterval.seconds {
            return .tooSoon(until: last + minInterval.seconds)
        }
        return recent.count >= maxResets ? .exhausted : .allowed
    }

    /// Records a reset (successful or not: each attempt spends budget).
    public mutating func record(_ address: PCIAddress, at now: Double, window: Duration) {
        let key = address.description
        history[key] = (history[key] ?? []).filter { now - $0 < window.seconds } + [now]
    }

    public mutating func quarantine(_ address: PCIAddress, at now: Double, reason: String) {
        quarantined[address.description] = Quarantine(since: now, reason: reason)
    }

    /// `gpumon clear`: lifts the quarantine and forgets the history. Returns whether anything changed.
    @discardableResult
    public mutating func clear(_ address: PCIAddress) -> Bool {
        let key = address.description
        var changed = quarantined[key] != nil || history[key] != nil
        quarantined[key] = nil
        history[key] = nil
        if historyLost != nil, !(historyLostCleared ?? []).contains(key) {
            historyLostCleared = (historyLostCleared ?? []) + [key]
            changed = true
        }
        return changed
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
