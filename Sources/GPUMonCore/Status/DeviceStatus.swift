/// One row of `gpumon status`: a function's identity, binding, group and state. The JSON field names are an
/// interface (`docs/cli.md`).
public struct DeviceStatus: Sendable, Equatable, Codable {
    public var address: PCIAddress
    public var vendor: String?
    public var device: String?
    public var pciClass: String?
    public var name: String?
    public var driver: String?
    public var driverOverride: String?
    public var targetDriver: String
    public var selected: Bool
    public var companionOf: PCIAddress?
    public var excluded: String?
    public var iommuGroup: Int?
    public var groupViable: Bool?
    public var groupBlockers: [PCIAddress]?
    public var resetMethods: [String]?
    public var hasFLR: Bool?
    public var powerState: String?
    public var bootVGA: Bool
    public var configReadable: Bool?
    public var state: DeviceState
    /// Why the daemon left the device as it is (in use, flapping), when it did.
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case address, vendor, device, name, driver, selected, excluded, state, note
        case pciClass = "class"
        case driverOverride = "driver_override"
        case targetDriver = "target_driver"
        case companionOf = "companion_of"
        case iommuGroup = "iommu_group"
        case groupViable = "group_viable"
        case groupBlockers = "group_blockers"
        case resetMethods = "reset_methods"
        case hasFLR = "has_flr"
        case powerState = "power_state"
        case bootVGA = "boot_vga"
        case configReadable = "config_readable"
    }

    // Nulls are written out: consumers rely on every documented key being present.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(address, forKey: .address)
        try c.encode(vendor, forKey: .vendor)
        try c.encode(device, forKey: .device)
        try c.encode(pciClass, forKey: .pciClass)
        try c.encode(name, forKey: .name)
        try c.encode(driver, forKey: .driver)
        try c.encode(driverOverride, forKey: .driverOverride)
        try c.encode(targetDriver, forKey: .targetDriver)
        try c.encode(selected, forKey: .selected)
        try c.encode(companionOf, forKey: .companionOf)
        try c.encode(excluded, forKey: .excluded)
        try c.encode(iommuGroup, forKey: .iommuGroup)
        try c.encode(groupViable, forKey: .groupViable)
        try c.encode(groupBlockers, forKey: .groupBlockers)
        try c.encode(resetMethods, forKey: .resetMethods)
        try c.encode(hasFLR, forKey: .hasFLR)
        try c.encode(powerState, forKey: .powerState)
        try c.encode(bootVGA, forKey: .bootVGA)
        try c.encode(configReadable, forKey: .configReadable)
        try c.encode(state, forKey: .state)
        try c.encode(note, forKey: .note)
    }
}
