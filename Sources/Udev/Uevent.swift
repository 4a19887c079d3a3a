/// One kernel uevent as the monitor received it, with the event's own properties (`ACTION`, `DRIVER`,
/// `PCI_SLOT_NAME`…). The properties describe the device *when the event was sent*; sysfs may have moved on.
public struct Uevent: Sendable, Equatable {
    /// `add`, `remove`, `bind`, `unbind`, `change`, `move`, `online`, `offline`.
    public let action: String
    /// The kernel device path (`/devices/pci0000:00/0000:00:01.0/0000:01:00.0`), without `/sys`.
    public let devpath: String
    public let subsystem: String?
    /// The kernel's sequence number (`SEQNUM`): gaps mean lost events.
    public let seqnum: UInt64?
    public let properties: [String: String]

    public init(action: String, devpath: String, subsystem: String?, seqnum: UInt64?, properties: [String: String]) {
        self.action = action
        self.devpath = devpath
        self.subsystem = subsystem
        self.seqnum = seqnum
        self.properties = properties
    }

    /// The last component of the device path: for PCI, the address (`0000:01:00.0`).
    public var sysname: String { devpath.split(separator: "/").last.map(String.init) ?? "" }

    public subscript(property: String) -> String? { properties[property] }
}
