public import GPUMonCore
public import HostFS
import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A sysfs tree in a temporary directory, laid out the way the kernel lays it out: device directories under
/// `devices/pci0000:00/…` following the bridge hierarchy, `bus/pci/devices/<addr>` links into them, and relative
/// `driver` and `iommu_group` links into `bus/pci/drivers` and `kernel/iommu_groups`.
public final class FakeSysfs {
    /// The tree; pass `tree.root` as `--sysfs-root`.
    public let tree: FileTree
    private var devicePaths: [PCIAddress: String] = [:]
    private var specs: [PCIAddress: Device] = [:]

    /// Creates an empty tree (no devices) in a new temporary directory.
    public init() throws {
        var template = Array("/tmp/gpumon-sysfs-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FSError(operation: "mkdtemp", path: "/tmp", errno: .ioError) }
        tree = FileTree(root: String(cString: made))
        for dir in ["bus/pci/devices", "bus/pci/drivers", "kernel/iommu_groups", "devices/pci0000:00"] {
            try tree.createDirectory(dir)
        }
        try tree.writeFileAtomically("1\n", to: "bus/pci/drivers_autoprobe")
        try tree.writeFileAtomically("", to: "bus/pci/drivers_probe")
        try tree.writeFileAtomically("", to: "bus/pci/rescan")
    }

    deinit { removeTree(tree.root) }

    /// A device to add; defaults describe an unbound endpoint without an IOMMU.
    public struct Device {
        public var address: PCIAddress
        public var id: PCIID
        public var pciClass: UInt32
        public var driver: String?
        public var parent: PCIAddress?
        public var iommuGroup: Int?
        /// `nil`: no `reset_method` attribute (old kernel); otherwise its words.
        public var resetMethods: [String]?
        public var bootVGA: Bool?
        public var powerState: String? = "D0"
        /// The first two bytes of `config`; `0xffff` for a device off the bus.
        public var configVendor: UInt16?
        public var subsystem: PCIID?
        public var driverOverride: String? = nil
        public var isBridge = false

        public init(
            _ address: String, id: String, class pciClass: UInt32, driver: String? = nil, parent: String? = nil,
            group: Int? = nil, reset: [String]? = nil, bootVGA: Bool? = nil, powerState: String? = "D0",
            configVendor: UInt16? = nil, subsystem: String? = nil, bridge: Bool = false
        ) throws {
            self.address = try PCIAddress(parsing: address)
            self.id = try PCIID(parsing: id)
            self.pciClass = pciClass
            self.driver = driver
            self.parent = try parent.map { try PCIAddress(parsing: $0) }
            self.iommuGroup = group
            self.resetMethods = reset
            self.bootVGA = bootVGA
            self.powerState = powerState
            self.configVendor = configVendor
            self.subsystem = try subsystem.map { try PCIID(parsing: $0) }
            self.isBridge = bridge
        }
    }

    /// Adds a device; its parent (if any) must have been added first.
    @discardableResult
    public func add(_ device: Device) throws -> String {
        let parentPath = try device.parent.map { parent in
            guard let path = devicePaths[parent] else {
                throw FSError(operation: "add", path: parent.description, errno: .noSuchFileOrDirectory)
            }
            return path
        } ?? "devices/pci0000:00"
        let dir = "\(parentPath)/\(device.address)"
        devicePaths[device.address] = dir
        specs[device.address] = device
        try tree.createDirectory(dir)
        func attr(_ name: String, _ value: String) throws { try tree.writeFileAtomically(value + "\n", to: "\(dir)/\(name)") }
        try attr("vendor", "0x" + device.id.vendorHex)
        try attr("device", "0x" + device.id.deviceHex)
        try attr("class", PCIClass(rawValue: device.pciClass).description)
        try attr("revision", "0xa1")
        let subsystem = device.subsystem ?? device.id
        try attr("subsystem_vendor", "0x" + subsystem.vendorHex)
        try attr("subsystem_device", "0x" + subsystem.deviceHex)
        try attr("driver_override", device.driverOverride ?? "(null)")
        try attr("d3cold_allowed", "1")
        try attr("enable", device.driver == nil ? "0" : "1")
        if let state = device.powerState { try attr("power_state", state) }
        if let boot = device.bootVGA { try attr("boot_vga", boot ? "1" : "0") }
        if let methods = device.resetMethods {
            try attr("reset_method", methods.joined(separator: " "))
            if !methods.isEmpty { try attr("reset", "") }
        }
        try attr("remove", "")
        try attr("rescan", "")
        let sub = device.subsystem ?? device.id
        try attr("modalias", "pci:v0000\(device.id.vendorHex.uppercased())d0000\(device.id.deviceHex.uppercased())"
            + "sv0000\(sub.vendorHex.uppercased())sd0000\(sub.deviceHex.uppercased())"
            + "bc\(hexByte(device.pciClass >> 16))sc\(hexByte(device.pciClass >> 8))i\(hexByte(device.pciClass))")
        if device.parent != nil {
            // The parent bridge's secondary bus, named like the kernel names it (DDDD:BB), with its rescan file.
            let bus = "\(parentPath)/pci_bus/" + String(device.address.description.prefix(7))
            if !tree.exists("\(bus)/rescan") {
                try tree.createDirectory(bus)
                try tree.writeFileAtomically("", to: "\(bus)/rescan")
            }
        }
        let vendor = device.configVendor ?? device.id.vendor
        var config = [UInt8](repeating: 0, count: 64)
        config[0] = UInt8(vendor & 0xff)
        config[1] = UInt8(vendor >> 8)
        config[2] = UInt8(device.id.device & 0xff)
        config[3] = UInt8(device.id.device >> 8)
        try tree.writeFileAtomically(bytes: config, to: "\(dir)/config")
        if device.isBridge { try tree.createDirectory("\(dir)/pci_bus") }

        try tree.createSymlink("bus/pci/devices/\(device.address)", target: "../../.." + "/" + dir)
        if let driver = device.driver { try bind(device.address, to: driver) }
        if let group = device.iommuGroup {
            try tree.createDirectory("kernel/iommu_groups/\(group)/devices")
            try tree.createSymlink("\(dir)/iommu_group", target: up(dir) + "kernel/iommu_groups/\(group)")
            try tree.createSymlink("kernel/iommu_groups/\(group)/devices/\(device.address)",
                target: "../../../../" + dir)
        }
        return dir
    }

    /// Points a device's `driver` link at `driver` (creating the driver directory), or removes it for `nil`.
    public func bind(_ address: PCIAddress, to driver: String?) throws {
        guard let dir = devicePaths[address] else { return }
        try tree.removeFile("\(dir)/driver")
        guard let driver else { return }
        try tree.createDirectory("bus/pci/drivers/\(driver)")
        for file in ["bind", "unbind", "new_id", "remove_id"] where !tree.exists("bus/pci/drivers/\(driver)/\(file)") {
            try tree.writeFileAtomically("", to: "bus/pci/drivers/\(driver)/\(file)")
        }
        try tree.createSymlink("\(dir)/driver", target: up(dir) + "bus/pci/drivers/\(driver)")
    }

    /// Hot-removes a device the way `remove` does: its directory and every link to it disappear.
    public func remove(_ address: PCIAddress) throws {
        guard let dir = devicePaths[address] else { return }
        try tree.removeFile("bus/pci/devices/\(address)")
        if let group = specs[address]?.iommuGroup {
            try tree.removeFile("kernel/iommu_groups/\(group)/devices/\(address)")
        }
        removeTree(tree.path(dir))
        devicePaths[address] = nil
    }

    /// Adds a removed device again as a rescan would: a new device object, unbound, no `driver_override`.
    public func rescan(_ address: PCIAddress) throws {
        guard devicePaths[address] == nil, var spec = specs[address] else { return }
        spec.driver = nil
        spec.driverOverride = nil
        try add(spec)
    }

    /// Removed devices under `parent` (for a fake bus rescan).
    public func removedDevices(under parent: PCIAddress?) -> [PCIAddress] {
        specs.filter { devicePaths[$0.key] == nil && $0.value.parent == parent }.map(\.key).sorted()
    }

    /// The device directory of `address` relative to the root.
    public func path(of address: PCIAddress) -> String? { devicePaths[address] }

    /// Rewrites the vendor ID in `config` (`0xffff`: the device stopped answering config reads).
    public func setConfigVendor(_ address: PCIAddress, _ vendor: UInt16) throws {
        guard let dir = devicePaths[address],
            var bytes = try tree.readBytes("\(dir)/config", maxBytes: 64), bytes.count >= 2
        else { return }
        bytes[0] = UInt8(vendor & 0xff)
        bytes[1] = UInt8(vendor >> 8)
        try tree.writeFileAtomically(bytes: bytes, to: "\(dir)/config")
    }

    /// Overwrites one attribute of a device (for odd-contents tests).
    public func setAttribute(_ address: PCIAddress, _ name: String, _ value: String) throws {
        guard let dir = devicePaths[address] else { return }
        try tree.writeFileAtomically(value, to: "\(dir)/\(name)")
    }

    /// Makes an attribute unreadable (a directory where the file was: reads fail with `EISDIR`), like a device
    /// whose config reads fail with `EIO`.
    public func makeUnreadable(_ address: PCIAddress, _ name: String) throws {
        guard let dir = devicePaths[address] else { return }
        try tree.removeFile("\(dir)/\(name)")
        try tree.createDirectory("\(dir)/\(name)")
    }

    /// Adds the pieces sysfs has for a device on an IOMMUFD-capable kernel: `vfio-dev/vfioN`.
    public func addVFIODeviceNode(_ address: PCIAddress, _ node: String) throws {
        guard let dir = devicePaths[address] else { return }
        try tree.createDirectory("\(dir)/vfio-dev/\(node)")
    }

    /// Adds a DRM node under the device (`drm/card0`, `drm/renderD128`), as a bound GPU driver creates.
    public func addDRMNode(_ address: PCIAddress, _ node: String) throws {
        guard let dir = devicePaths[address] else { return }
        try tree.createDirectory("\(dir)/drm/\(node)")
    }

    private func up(_ dir: String) -> String {
        String(repeating: "../", count: dir.split(separator: "/").count)
    }
}

private func hexByte(_ value: UInt32) -> String {
    let text = String(value & 0xff, radix: 16, uppercase: true)
    return text.count == 1 ? "0" + text : text
}

/// Removes a directory tree (test clean-up only).
func removeTree(_ path: String) {
    guard path.hasPrefix("/tmp/") else { return }
    try? FileManager.default.removeItem(atPath: path)
}
