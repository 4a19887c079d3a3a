/// Whether an IOMMU group can be handed to VFIO under a selection.
///
/// VFIO opens a group only when every endpoint in it is unbound or on a VFIO driver; bridges do not count. A
/// group is *viable* under the config when each endpoint is selected (gpumon will move it), unbound, or already
/// on the target driver. The endpoints that are none of these are the *blockers*: a host device sharing the
/// group, which gpumon will not touch.
public struct GroupViability: Sendable, Equatable {
    public let group: Int
    public let blockers: [PCIAddress]
    public var isViable: Bool { blockers.isEmpty }

    public static func evaluate(
        group: Int, topology: PCITopology, selection: Selection, targetDriver: String
    ) -> GroupViability {
        let blockers = topology.groupMembers(group).filter { member in
            !member.isBridge && !selection.isSelected(member.address) && member.driver != nil
                && member.driver != targetDriver
        }.map(\.address)
        return GroupViability(group: group, blockers: blockers)
    }
}
