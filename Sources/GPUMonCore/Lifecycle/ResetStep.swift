/// One concrete way to reset a slot, chosen from the configured order and what the kernel offers.
public enum ResetStep: Sendable, Equatable, CustomStringConvertible {
    /// Write `method` to `reset_method` of `address`, then `1` to its `reset`; the previous `reset_method` is restored.
    case kernel(method: String, address: PCIAddress)
    /// A bus reset covering every function of the slot at once, through VFIO's hot-reset ioctls on their groups.
    case slot(functions: [PCIAddress], groups: [Int])
    /// Remove every function of the slot, then rescan the parent bridge's secondary bus only.
    case removeRescan(functions: [PCIAddress], bridge: PCIAddress)

    public var method: String {
        switch self {
        case .kernel(let method, _): return method
        case .slot: return "slot"
        case .removeRescan: return "remove-rescan"
        }
    }

    public var description: String {
        switch self {
        case .kernel(let method, let address): return "kernel \(method) reset of \(address)"
        case .slot(let functions, let groups):
            return "slot reset (VFIO hot reset, group " + groups.map(String.init).joined(separator: "+") + ") of "
                + functions.map(\.description).joined(separator: ", ")
        case .removeRescan(let functions, let bridge):
            return "remove " + functions.map(\.description).joined(separator: ", ") + " and rescan below \(bridge)"
        }
    }
}
