/// The reconciler's output: one decision per selected function, grouped so that the functions of one IOMMU group
/// are acted on together, plus host-level needs.
public struct EnforcementPlan: Equatable, Sendable {
    public struct Item: Equatable, Sendable {
        public let address: PCIAddress
        public let id: PCIID
        public let group: Int?
        public let decision: EnforcementDecision
    }

    public var items: [Item] = []
    /// The target driver is not registered (`bus/pci/drivers/<target>` missing): load its module first.
    public var loadTargetDriver = false
    /// Groups of selected functions that stay unusable because an unselected endpoint is on a host driver.
    public var nonViableGroups: [GroupViability] = []

    /// The items that need a write.
    public var actionable: [Item] {
        items.filter { item in
            switch item.decision {
            case .claim, .setOverride: return true
            default: return false
            }
        }
    }
}
