/// Whether to reset a slot after its VM stopped, from `reset_after_stop` and what the functions show.
public enum ResetDecision: Sendable, Equatable {
    case reset(why: String)
    case skip(why: String)

    public static func decide(policy: ResetAfterStop, hasFLR: Bool, stuck: [StuckAssessment]) -> ResetDecision {
        let stuckReasons = stuck.filter(\.isStuck).map { "\($0.address): " + $0.reasons.joined(separator: "; ") }
        switch policy {
        case .never:
            return .skip(why: stuckReasons.isEmpty ? "reset_after_stop = never" :
                "reset_after_stop = never, although stuck: " + stuckReasons.joined(separator: " | "))
        case .always:
            return .reset(why: "reset_after_stop = always")
        case .onStuck:
            return stuckReasons.isEmpty ? .skip(why: "healthy") : .reset(why: "stuck: " + stuckReasons.joined(separator: " | "))
        case .auto:
            if !stuckReasons.isEmpty { return .reset(why: "stuck: " + stuckReasons.joined(separator: " | ")) }
            return hasFLR ? .skip(why: "healthy and FLR-capable") : .reset(why: "no FLR in reset_method")
        }
    }
}
