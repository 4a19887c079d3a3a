/// The kinds of alert, each with a stable journald `MESSAGE_ID` so operators can filter
/// (`journalctl MESSAGE_ID=…`) and a Prometheus label.
public enum AlertKind: String, Sendable, CaseIterable, Codable {
    /// A host driver bound a selected function.
    case hostDriverGrab = "host-driver-grab"
    /// A function was grabbed too often; gpumon backs off.
    case flapping
    /// Moving a function to the target driver failed.
    case claimFailed = "claim-failed"
    /// A selected function's IOMMU group has an unselected endpoint on a host driver.
    case groupNotViable = "group-not-viable"
    /// A selected function needs action but its group is held open by a process.
    case inUse = "in-use"
    /// The dynamic-ID fallback captured an unselected function; it was released.
    case capturedUnselected = "captured-unselected"
    /// SIGHUP brought an invalid config; the old one stays.
    case configRejected = "config-rejected"
    /// The uevent socket overflowed; everything was re-read.
    case eventsLost = "events-lost"
    /// A GPU was found stuck after its VM stopped.
    case stuck
    /// Every reset method failed; the function stays stuck.
    case resetFailed = "reset-failed"
    /// The reset budget is spent; the function is left alone until `gpumon clear`.
    case quarantined
    /// The daemon found a reset it had been killed in the middle of, and repaired it.
    case resetRepaired = "reset-repaired"
    /// Placement could not be read or updated (after bounded retries); gpumon keeps retrying with back-off.
    case placementSyncFailed = "placement-sync-failed"

    /// 128-bit IDs in journald's format (32 hex digits), fixed forever for each kind.
    public var messageID: String {
        switch self {
        case .hostDriverGrab: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f01"
        case .flapping: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f02"
        case .claimFailed: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f03"
        case .groupNotViable: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f04"
        case .inUse: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f05"
        case .capturedUnselected: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f06"
        case .configRejected: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f07"
        case .eventsLost: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f08"
        case .stuck: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f09"
        case .resetFailed: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f0a"
        case .quarantined: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f0b"
        case .resetRepaired: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f0c"
        case .placementSyncFailed: return "6a1f3c2e9b8d4e0fa7c15d2e3b4a5f0d"
        }
    }
}
