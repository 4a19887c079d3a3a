/// What Placement holds for one PCI device provider of this host, as gpumon read it.
public struct PlacementProvider: Sendable, Equatable, Codable {
    public var name: String
    public var uuid: String
    public var generation: Int
    /// The device's resource class (`CUSTOM_PCI_10DE_2204`, or one from Nova's `device_spec`).
    public var resourceClass: String
    public var total: Int
    public var reserved: Int
    /// Allocated right now (from the provider's usages).
    public var used: Int
    /// Carries `HW_PCI_ONE_TIME_USE` (Nova's `"one_time_use": "true"` devices).
    public var oneTimeUse: Bool

    public init(name: String, uuid: String, generation: Int, resourceClass: String, total: Int, reserved: Int,
        used: Int, oneTimeUse: Bool) {
        self.name = name
        self.uuid = uuid
        self.generation = generation
        self.resourceClass = resourceClass
        self.total = total
        self.reserved = reserved
        self.used = used
        self.oneTimeUse = oneTimeUse
    }

    enum CodingKeys: String, CodingKey {
        case name, uuid, generation, total, reserved, used
        case resourceClass = "resource_class"
        case oneTimeUse = "one_time_use"
    }
}

/// What gpumon remembers between runs about Placement (`placement.json` in `state_dir`): which providers it
/// reserved itself (only those it ever unreserves), when it first saw each one-time-use device waiting to be
/// cleaned, and when each function last passed a verified reset.
public struct PlacementLedger: Sendable, Equatable, Codable {
    /// Provider name → when gpumon set `reserved = total`.
    public var reservedByGPUMon: [String: Double] = [:]
    /// One-time-use provider name → when gpumon first saw it consumed (`reserved = total` set by Nova).
    public var consumedSince: [String: Double] = [:]
    /// PCI address → when its last verified reset finished.
    public var verifiedResets: [String: Double] = [:]

    public init() {}

    enum CodingKeys: String, CodingKey {
        case reservedByGPUMon = "reserved_by_gpumon"
        case consumedSince = "one_time_use_consumed_since"
        case verifiedResets = "verified_resets"
    }
}

/// One selected function as the Placement planner sees it.
public struct PlacementDeviceInput: Sendable, Equatable {
    public var address: PCIAddress
    public var state: DeviceState
    /// `false` when the IOMMU group is not viable; `nil` when unknown (no group).
    public var groupViable: Bool?

    public init(address: PCIAddress, state: DeviceState, groupViable: Bool?) {
        self.address = address
        self.state = state
        self.groupViable = groupViable
    }

    /// From a `gpumon status` row (the daemon's or one built from sysfs and the state directory).
    public init(_ status: DeviceStatus) {
        self.init(address: status.address, state: status.state, groupViable: status.groupViable)
    }
}
