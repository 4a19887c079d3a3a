/// The per-function reset budget: at most `maxResets` within `window`, never two closer than `minInterval`, and
/// quarantine once the budget is spent. Times are wall-clock seconds so the history survives a restart (it is
/// persisted in `state_dir`). Pure: callers pass `now`.
public struct ResetBudget: Sendable, Equatable, Codable {
    /// Why a function is quarantined.
    public struct Quarantine: Sendable, Equatable, Codable {
        public var since: Double
        public var reason: String
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

    public init() {}

    public func verdict(
        for address: PCIAddress, now: Double, maxResets: Int, window: Duration, minInterval: Duration
    ) -> Verdict {
        let key = address.description
        if let quarantine = quarantined[key] { return .quarantined(quarantine) }
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
        let changed = quarantined[key] != nil || history[key] != nil
        quarantined[key] = nil
        history[key] = nil
        return changed
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
