/// When to reset a GPU after the VM that used it stops (`reset_after_stop`).
public enum ResetAfterStop: String, Sendable, CaseIterable, Codable {
    /// Reset after every stop when the device has no FLR in `reset_method`; FLR-capable devices only when stuck.
    case auto
    /// Reset after every stop.
    case always
    /// Reset only when the device is found stuck.
    case onStuck = "on-stuck"
    /// Never reset; only report.
    case never
}
