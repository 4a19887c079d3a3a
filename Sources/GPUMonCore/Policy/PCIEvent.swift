/// A PCI uevent reduced to what the enforcer needs, parsed from the event's own properties.
public struct PCIEvent: Equatable, Sendable {
    public enum Action: String, Sendable {
        case add, remove, bind, unbind, change, move, online, offline
    }

    public let action: Action
    public let address: PCIAddress
    /// `DRIVER` as the event carried it: on `bind`, the driver that just bound.
    public let driver: String?
    /// `PCI_ID` (`10DE:2204`).
    public let id: PCIID?

    public init(action: Action, address: PCIAddress, driver: String?, id: PCIID?) {
        self.action = action
        self.address = address
        self.driver = driver
        self.id = id
    }

    /// Parses the properties of a `pci` uevent; `nil` for events without an action or a PCI address.
    public init?(action: String, sysname: String, properties: [String: String]) {
        guard let action = Action(rawValue: action),
            let address = PCIAddress(properties["PCI_SLOT_NAME"] ?? sysname)
        else { return nil }
        self.action = action
        self.address = address
        self.driver = properties["DRIVER"].flatMap { $0.isEmpty ? nil : $0 }
        self.id = properties["PCI_ID"].flatMap { try? PCIID(parsing: $0) }
    }
}
