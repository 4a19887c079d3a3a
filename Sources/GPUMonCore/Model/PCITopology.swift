/// Every PCI function present, with the relations status and selection need: slots, IOMMU groups, bridges.
public struct PCITopology: Sendable {
    public let devices: [PCIDevice]
    private let byAddress: [PCIAddress: PCIDevice]

    public init(devices: [PCIDevice]) {
        self.devices = devices.sorted { $0.address < $1.address }
        self.byAddress = Dictionary(devices.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
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
        return PCITopology(devices: list)
    }
}
