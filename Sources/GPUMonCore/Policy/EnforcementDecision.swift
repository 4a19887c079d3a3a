/// What the reconciler decides for one selected function.
public enum EnforcementDecision: Equatable, Sendable {
    /// On the target driver with `driver_override` set: nothing to do.
    case keep
    /// On the target driver, but `driver_override` is unset, so a future unbind or rescan would let a host
    /// driver take it: set the override.
    case setOverride
    /// Bound to another driver (`from`), or unbound (`nil`): move it to the target driver.
    case claim(from: String?)
    /// A process holds the IOMMU group open (`/dev/vfio/<group>`): never touched while it does.
    case leaveInUse(group: Int)
    /// Grabbed by host drivers too often: left alone until the back-off ends.
    case leaveFlapping
}
