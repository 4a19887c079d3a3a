/// A snapshot of one PCI function as sysfs showed it at one moment.
///
/// Attributes that the kernel does not provide (old kernels have no `reset_method`; only VGA devices have
/// `boot_vga`) are `nil`, never errors. The snapshot is a value: reading it again gives a new one.
public struct PCIDevice: Hashable, Sendable {
    public var address: PCIAddress
    public var id: PCIID
    public var subsystemVendor: UInt16?
    public var subsystemDevice: UInt16?
    public var pciClass: PCIClass
    public var revision: UInt8?
    /// The bound driver's name (the `driver` link), `nil` when unbound.
    public var driver: String?
    /// The `driver_override` attribute; `nil` when unset (`(null)`), absent, or empty.
    public var driverOverride: String?
    /// The IOMMU group number (the `iommu_group` link), `nil` without an IOMMU.
    public var iommuGroup: Int?
    /// The enabled reset methods in the kernel's order (`reset_method`); `nil` when the attribute is absent
    /// (kernels before 5.15), `[]` when it exists but is empty (no reset possible).
    public var resetMethods: [String]?
    /// Whether a `reset` attribute exists: the kernel has at least one way to reset this function.
    public var hasResetAttribute: Bool
    /// `power_state`: `D0`, `D3hot`, `D3cold`, `unknown`, `error`…
    public var powerState: String?
    /// `boot_vga`; only VGA-class devices have it.
    public var bootVGA: Bool?
    public var d3coldAllowed: Bool?
    /// The upstream bridge, when the device sits behind one (root port or switch port); `nil` on the root bus.
    public var parentBridge: PCIAddress?
    /// The vendor ID read from the first two bytes of `config`: `0xffff` when the device does not answer
    /// config reads (fallen off the bus), `nil` when `config` could not be read.
    public var configVendorID: UInt16?
    /// Whether the function is itself a bridge (has a subordinate `pci_bus`) — never selectable.
    public var isBridge: Bool
    /// The device's directory relative to the sysfs root, symlinks resolved (`devices/pci0000:00/…`).
    public var sysfsPath: String

    public init(
        address: PCIAddress, id: PCIID, subsystemVendor: UInt16? = nil, subsystemDevice: UInt16? = nil,
        pciClass: PCIClass, revision: UInt8? = nil, driver: String? = nil, driverOverride: String? = nil,
        iommuGroup: Int? = nil, resetMethods: [String]? = nil, hasResetAttribute: Bool = false,
        powerState: String? = nil, bootVGA: Bool? = nil, d3coldAllowed: Bool? = nil,
        parentBridge: PCIAddress? = nil, configVendorID: UInt16? = nil, isBridge: Bool = false,
        sysfsPath: String = ""
    ) {
        self.address = address
        self.id = id
        self.subsystemVendor = subsystemVendor
        self.subsystemDevice = subsystemDevice
        self.pciClass = pciClass
        self.revision = revision
        self.driver = driver
        self.driverOverride = driverOverride
        self.iommuGroup = iommuGroup
        self.resetMethods = resetMethods
        self.hasResetAttribute = hasResetAttribute
        self.powerState = powerState
        self.bootVGA = bootVGA
        self.d3coldAllowed = d3coldAllowed
        self.parentBridge = parentBridge
        self.configVendorID = configVendorID
        self.isBridge = isBridge
        self.sysfsPath = sysfsPath
    }

    /// Whether this is the firmware's boot display (the host console).
    public var isBootVGA: Bool { bootVGA == true }

    /// Whether config space answers: a vendor ID of `0xffff` means the device is off the bus.
    public var configSpaceReadable: Bool? { configVendorID.map { $0 != 0xFFFF } }

    /// Whether the kernel can do a function-level reset (`flr` or `af_flr` among the enabled reset methods).
    public var hasFLR: Bool { resetMethods?.contains(where: { $0 == "flr" || $0 == "af_flr" }) ?? false }
}
