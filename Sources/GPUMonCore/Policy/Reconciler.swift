/// Decides what to do about every selected function. Pure: the same observed state always gives the same plan,
/// so `--dry-run`, logs and tests see exactly what the executor would do.
public enum Reconciler {
    /// Observed facts beyond the topology.
    public struct Observations: Sendable {
        /// IOMMU groups some process holds open through `/dev/vfio/<group>`.
        public var inUseGroups: Set<Int> = []
        /// Functions in flapping back-off.
        public var backedOff: Set<PCIAddress> = []
        /// Whether `bus/pci/drivers/<target>` exists.
        public var targetDriverRegistered = true

        public init(inUseGroups: Set<Int> = [], backedOff: Set<PCIAddress> = [], targetDriverRegistered: Bool = true) {
            self.inUseGroups = inUseGroups
            self.backedOff = backedOff
            self.targetDriverRegistered = targetDriverRegistered
        }
    }

    /// Plans for every selected function present, or only for `limit` when given (an event about one slot).
    public static func plan(
        config: Config, topology: PCITopology, selection: Selection, observations: Observations,
        limit: Set<PCIAddress>? = nil
    ) -> EnforcementPlan {
        let target = config.daemon.targetDriver
        var plan = EnforcementPlan()
        var addresses = selection.selectedAddresses
        if let limit {
            // Act on whole groups: an event about the GPU also covers its audio function.
            let groups = Set(limit.compactMap { topology[$0]?.iommuGroup })
            addresses = addresses.filter { address in
                limit.contains(address) || topology[address]?.iommuGroup.map(groups.contains) == true
            }
        }
        // Group members next to each other, groups in address order of their first member.
        let ordered = addresses.compactMap { topology[$0] }.sorted { lhs, rhs in
            (lhs.iommuGroup ?? Int.max, lhs.address) < (rhs.iommuGroup ?? Int.max, rhs.address)
        }
        var needsDriver = false
        var viabilityChecked: Set<Int> = []
        for device in ordered {
            let decision: EnforcementDecision
            if let group = device.iommuGroup, observations.inUseGroups.contains(group) {
                decision = .leaveInUse(group: group)
            } else if device.driver == target {
                decision = device.driverOverride == target ? .keep : .setOverride
            } else if observations.backedOff.contains(device.address) {
                decision = .leaveFlapping
            } else {
                decision = .claim(from: device.driver)
                needsDriver = true
            }
            plan.items.append(.init(address: device.address, id: device.id, group: device.iommuGroup, decision: decision))
            if let group = device.iommuGroup, viabilityChecked.insert(group).inserted {
                let viability = GroupViability.evaluate(
                    group: group, topology: topology, selection: selection, targetDriver: target)
                if !viability.isViable { plan.nonViableGroups.append(viability) }
            }
        }
        plan.loadTargetDriver = needsDriver && !observations.targetDriverRegistered
        return plan
    }
}
