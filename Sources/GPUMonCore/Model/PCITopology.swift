/// Every PCI function present, with the relations status and selection need: slots, IOMMU groups, bridges.
public struct PCITopology: Sendable {
    public let devices: [PCIDevice]
    /// Functions present in sysfs whose attributes could not be read (an I/O error, garbage where a number
    /// belongs), with why. They are never selected and never acted on, and they make their slot unknown: a
    /// function that cannot be read might be the boot VGA, so its siblings are not taken either.
    public let unknown: [PCIAddress: String]
    private let byAddress: [PCIAddress: PCIDevice]

    public init(devices: [PCIDevice], unknown: [PCIAddress: String] = [:]) {
        self.devices = devices.sorted { $0.address < $1.address }
        self.byAddress = Dictionary(devices.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        self.unknown = unknown.filter { entry in !devices.contains { $0.address == entry.key } }
    }

    /// Whether a function is present but unreadable.
    public func isUnknown(_ address: PCIAddress) -> Bool { unknown[address] != nil }

    /// Present-but-unreadable functions of the same slot as `address` (itself excluded).
    public func unknownSiblings(of address: PCIAddress) -> [PCIAddress] {
        unknown.keys.filter { $0.slot == address.slot && $0 != address }.sorted()
    }

    public subscript(address: PCIAddress) -> PCIDevice? { byAddress[address] }

    /// The other functions of the same slot (a GPU's HDMI audio function, USB-C controller…).
    public func siblings(of address: PCIAddress) -> [PCIDevice] {
        devices.filter { $0.address.slot == address.slot && $0.address != address }
    }

    /// Every function in an IOMMU group, bridges included.
    public func groupMembers(_ group: Int) -> [PCIDevice] {
        devices.filter { $0.iommuGroup == group }
    }
}

extension PCITopology {
    /// The same topology with one function replaced by a fresh read, or removed when `device` is `nil`.
    public func replacing(_ address: PCIAddress, with device: PCIDevice?) -> PCITopology {
        var list = devices.filter { $0.address != address }
        if let device { list.append(device) }
        var unknown = self.unknown
        unknown[address] = nil
        return PCITopology(devices: list, unknown: unknown)
    }

    /// The same topology with one function present but unreadable (see ``unknown``).
    public func markingUnknown(_ address: PCIAddress, reason: String) -> PCITopology {
        var unknown = self.unknown
        unknown[address] = reason
        return PCITopology(devices: devices.filter { $0.address != address }, unknown: unknown)
    }
}
