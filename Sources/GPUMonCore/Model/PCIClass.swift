/// A 24-bit PCI class code (`class` in sysfs, e.g. `0x030000`): base class, subclass, programming interface.
public struct PCIClass: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue & 0xFF_FFFF }

    public var baseClass: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 16) }
    public var subclass: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 8) }

    /// `0x030000`, the form sysfs uses.
    public var description: String { "0x" + hexString(rawValue, width: 6) }

    /// Base class 0x06: host, ISA and PCI-to-PCI bridges. gpumon never selects these.
    public var isBridge: Bool { baseClass == 0x06 }
    /// Base class 0x03: VGA, XGA, 3D and other display controllers.
    public var isDisplay: Bool { baseClass == 0x03 }

    /// A short human name for the class, enough for a status table.
    public var shortName: String {
        switch (baseClass, subclass) {
        case (0x03, 0x00): return "VGA"
        case (0x03, 0x02): return "3D"
        case (0x03, _): return "Display"
        case (0x04, 0x03): return "Audio"
        case (0x04, _): return "Multimedia"
        case (0x01, 0x08): return "NVMe"
        case (0x01, _): return "Storage"
        case (0x02, _): return "Network"
        case (0x06, 0x00): return "Host bridge"
        case (0x06, 0x04): return "PCI bridge"
        case (0x06, _): return "Bridge"
        case (0x0c, 0x03): return "USB"
        case (0x0c, _): return "Serial bus"
        case (0x12, _): return "Accelerator"
        case (0xff, _): return "Unassigned"
        default: return "Class " + hexString(rawValue >> 8, width: 4)
        }
    }
}
