public import HostFS

/// Reads PCI functions from a sysfs tree (`/sys` in production, a temporary tree in tests).
///
/// The corresponding kernel interface is `Documentation/ABI/testing/sysfs-bus-pci`.
public struct PCISysfs: Sendable {
    public let sysfs: FileTree

    public init(sysfs: FileTree) { self.sysfs = sysfs }

    /// The directory that lists every PCI function as a link named by its address.
    public static let devicesDirectory = "bus/pci/devices"

    /// The relative path of a function's directory (through the `bus/pci/devices` link).
    public static func devicePath(_ address: PCIAddress) -> String { "\(devicesDirectory)/\(address)" }

    /// Reads every PCI function. Devices that vanish or look malformed while being read are reported as
    /// problems, not errors.
    public func scan() throws(SysfsScanError) -> (topology: PCITopology, problems: [SysfsProblem]) {
        let listed: [String]?
        do {
            listed = try sysfs.list(Self.devicesDirectory)
        } catch {
            throw .io(error)
        }
        guard let names = listed else { throw .noPCIBus(path: sysfs.path(Self.devicesDirectory)) }
        var devices: [PCIDevice] = []
        var unknown: [PCIAddress: String] = [:]
        var problems: [SysfsProblem] = []
        for name in names {
            guard let address = PCIAddress(name) else {
                problems.append(SysfsProblem(path: sysfs.path("\(Self.devicesDirectory)/\(name)"),
                    message: "entry is not a PCI address"))
                continue
            }
            // A function that cannot be read stays in the topology as present-and-unknown: dropping it made its
            // siblings look like a card of their own (a boot VGA with a garbled `revision` vanished and its
            // audio function was selected).
            do {
                if let device = try read(address) { devices.append(device) }
            } catch let error as SysfsFormatError {
                problems.append(SysfsProblem(path: error.path, message: error.reason))
                if sysfs.exists(Self.devicePath(address)) { unknown[address] = "\(error.path): \(error.reason)" }
            } catch let error as FSError where error.code == .notFound || error.code == .deviceGone {
                // Removed while being read: gone, not unknown.
                problems.append(SysfsProblem(path: error.path, message: "\(error)"))
            } catch {
                problems.append(SysfsProblem(path: sysfs.path(Self.devicePath(address)), message: "\(error)"))
                if sysfs.exists(Self.devicePath(address)) { unknown[address] = "\(error)" }
            }
        }
        return (PCITopology(devices: devices, unknown: unknown), problems)
    }

    /// Reads one function; `nil` when it is not present.
    ///
    /// - Throws: ``SysfsFormatError`` when an identifying attribute is missing or unparseable, `FSError` when a
    ///   read fails for another reason than absence.
    public func read(_ address: PCIAddress) throws -> PCIDevice? {
        let dir = Self.devicePath(address)
        guard let canonical = try sysfs.canonicalPath(dir) else { return nil }
        let attr = AttributeReader(sysfs: sysfs, directory: dir)

        guard let vendor: UInt16 = try attr.hex("vendor", required: true),
            let deviceID: UInt16 = try attr.hex("device", required: true),
            let classCode: UInt32 = try attr.hex("class", required: true)
        else {
            return nil  // vanished between the listing and the read
        }
        let components = canonical.split(separator: "/")
        let parent = components.dropLast().last.flatMap { PCIAddress(String($0)) }
        let group = try sysfs.readLinkName("\(dir)/iommu_group").flatMap { name -> Int? in
            Int(name)
        }
        let resetMethods = try attr.string("reset_method").map { text in
            text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.self.init)
        }
        let configBytes = try sysfs.readBytes("\(dir)/config", maxBytes: 64)
        let configVendor: UInt16? = configBytes.flatMap { bytes in
            bytes.count >= 2 ? UInt16(bytes[0]) | (UInt16(bytes[1]) << 8) : nil
        }
        let pciClass = PCIClass(rawValue: classCode)
        return PCIDevice(
            address: address,
            id: PCIID(vendor: vendor, device: deviceID),
            subsystemVendor: try attr.hex("subsystem_vendor"),
            subsystemDevice: try attr.hex("subsystem_device"),
            pciClass: pciClass,
            revision: try attr.hex("revision"),
            driver: try sysfs.readLinkName("\(dir)/driver"),
            driverOverride: try attr.string("driver_override").flatMap { value in
                value.isEmpty || value == "(null)" ? nil : value
            },
            iommuGroup: group,
            resetMethods: resetMethods,
            hasResetAttribute: sysfs.exists("\(dir)/reset"),
            powerState: try attr.string("power_state"),
            bootVGA: try attr.bool("boot_vga"),
            d3coldAllowed: try attr.bool("d3cold_allowed"),
            parentBridge: parent,
            configVendorID: configVendor,
            isBridge: pciClass.isBridge || sysfs.isDirectory("\(dir)/pci_bus"),
            sysfsPath: canonical
        )
    }
}

/// Reads and parses attributes of one sysfs directory, naming the path in every error.
public struct AttributeReader {
    public let sysfs: FileTree
    public let directory: String

    public init(sysfs: FileTree, directory: String) {
        self.sysfs = sysfs
        self.directory = directory
    }

    public func string(_ name: String) throws(FSError) -> String? {
        try sysfs.readString("\(directory)/\(name)", maxBytes: 4096)?.trimmingWhitespace()
    }

    /// A `0x…` hex attribute (`vendor`, `class`…).
    public func hex<T: FixedWidthInteger>(_ name: String, required: Bool = false) throws -> T? {
        guard let text = try string(name) else {
            if required && sysfs.exists(directory) {
                throw SysfsFormatError(path: sysfs.path("\(directory)/\(name)"), reason: "attribute is missing")
            }
            return nil
        }
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? text.dropFirst(2) : Substring(text)
        guard !digits.isEmpty, let value = T(digits, radix: 16) else {
            throw SysfsFormatError(path: sysfs.path("\(directory)/\(name)"),
                reason: "expected a hex number, found \"\(text.prefix(40))\"")
        }
        return value
    }

    /// A `0`/`1` attribute.
    public func bool(_ name: String) throws -> Bool? {
        guard let text = try string(name) else { return nil }
        switch text {
        case "1": return true
        case "0": return false
        default:
            throw SysfsFormatError(path: sysfs.path("\(directory)/\(name)"),
                reason: "expected 0 or 1, found \"\(text.prefix(40))\"")
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
