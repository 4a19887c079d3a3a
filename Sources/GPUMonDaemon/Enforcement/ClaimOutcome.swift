public import GPUMonCore

/// How a claim ended.
public struct ClaimOutcome: Sendable, Equatable {
    public enum Result: Sendable, Equatable {
        /// Bound to the target driver through `driver_override` + `drivers_probe`.
        case boundByOverride
        /// `driver_override` did not take; bound through the target driver's dynamic ID (`new_id`) instead.
        case boundByNewID
        /// Already on the target driver; only `driver_override` was set.
        case overrideSet
        /// Dry run: the steps were logged, nothing was written.
        case dryRun
        case failed(String)
    }

    public let address: PCIAddress
    public let previousDriver: String?
    public let result: Result
    /// Unselected functions the dynamic ID captured and that were handed back (should be empty).
    public var released: [PCIAddress] = []
    /// Every step, in order, as it was (or would have been) done: `write vfio-pci > …/driver_override`.
    public var steps: [String] = []

    public var succeeded: Bool {
        switch result {
        case .boundByOverride, .boundByNewID, .overrideSet, .dryRun: return true
        case .failed: return false
        }
    }
}
