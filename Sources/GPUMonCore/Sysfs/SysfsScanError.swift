public import HostFS

/// Why the PCI device list could not be read at all.
public enum SysfsScanError: Error, CustomStringConvertible {
    /// `bus/pci/devices` does not exist under the root: wrong `--sysfs-root`, or sysfs not mounted.
    case noPCIBus(path: String)
    case io(FSError)

    public var description: String {
        switch self {
        case .noPCIBus(let path): return "\(path) does not exist: not a sysfs tree, or sysfs is not mounted"
        case .io(let error): return "cannot read PCI devices: \(error)"
        }
    }
}
