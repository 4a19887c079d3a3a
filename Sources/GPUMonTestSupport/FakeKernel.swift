public import GPUMonCore
public import HostFS
import SystemPackage

/// Applies the kernel's sysfs write semantics to a ``FakeSysfs``, for executor and enforcer tests: `unbind`
/// removes the `driver` link, `drivers_probe` binds per `driver_override` or the drivers' ID tables, `new_id`
/// adds a dynamic ID and probes, `bind` binds explicitly. It is the daemon's `AttributeWriter` in tests.
public final class FakeKernel: @unchecked Sendable {
    public let sys: FakeSysfs
    /// The static ID tables of host drivers: which driver a plain probe binds (`10de:2204` → `nvidia`).
    public var hostDrivers: [PCIID: String]
    /// Drivers that are registered (`bus/pci/drivers/<name>` exists) and can bind.
    public var registered: Set<String>
    /// Simulates a kernel where `driver_override` is ignored, to exercise the `new_id` fallback.
    public var ignoresOverride = false
    /// Dynamic IDs (`new_id`) per driver: a reset must leave none behind.
    public private(set) var dynamicIDs: [String: Set<PCIID>] = [:]
    /// Functions whose config space reads all ones until a reset by one of `wedgedUntil[address]` methods.
    public var wedged: [PCIAddress: Set<String>] = [:]
    /// Resets done, in order, as `method address`.
    public private(set) var resets: [String] = []
    /// Every driver that bound a selected-or-not function, in order (`address driver`): the lab's "no host-driver
    /// bind during a reset" in miniature.
    public private(set) var binds: [String] = []
    /// Every write, in order, as `path <- value`.
    public private(set) var writes: [String] = []

    public init(sys: FakeSysfs, hostDrivers: [PCIID: String], registered: Set<String>) throws {
        self.sys = sys
        self.hostDrivers = hostDrivers
        self.registered = registered
        for driver in registered { try sys.tree.createDirectory("bus/pci/drivers/\(driver)") }
    }

    public func write(_ value: String, to relative: String) throws(FSError) {
        do {
            try apply(value, to: relative)
        } catch let error as FSError {
            throw error
        } catch {
            throw FSError(operation: "write", path: sys.tree.path(relative), errno: .ioError)
        }
    }

    private func apply(_ value: String, to relative: String) throws {
        writes.append("\(relative) <- \(value)")
        let parts = relative.split(separator: "/").map(String.init)
        func fail(_ errno: Errno) -> FSError { FSError(operation: "write", path: sys.tree.path(relative), errno: errno) }
        switch (parts.count, parts.last) {
        case (5, "driver_override") where parts[0...2] == ["bus", "pci", "devices"]:
            try sys.tree.writeFileAtomically(value.isEmpty ? "(null)\n" : value + "\n", to: relative)
        case (6, "unbind") where parts[0...2] == ["bus", "pci", "devices"]:
            // devices/<addr>/driver/unbind
            guard let address = PCIAddress(parts[3]), driver(of: address) != nil else { throw fail(.operationNotSupportedByDevice) }
            try sys.bind(address, to: nil)
        case (5, "unbind") where parts[0...2] == ["bus", "pci", "drivers"]:
            guard let address = PCIAddress(value), driver(of: address) == parts[3] else { throw fail(.operationNotSupportedByDevice) }
            try sys.bind(address, to: nil)
        case (3, "drivers_probe"):
            guard let address = PCIAddress(value) else { throw fail(.invalidArgument) }
            if driver(of: address) == nil { try probe(address) }
        case (5, "new_id"):
            let name = parts[3]
            guard registered.contains(name) else { throw fail(.noSuchFileOrDirectory) }
            let words = value.split(separator: " ")
            guard words.count >= 2, let vendor = UInt16(words[0], radix: 16), let device = UInt16(words[1], radix: 16)
            else { throw fail(.invalidArgument) }
            let id = PCIID(vendor: vendor, device: device)
            if dynamicIDs[name, default: []].contains(id) || hostDrivers[id] == name { throw fail(.fileExists) }
            dynamicIDs[name, default: []].insert(id)
            for address in try allAddresses() where driver(of: address) == nil && identity(of: address) == id {
                if overrideAllows(address, name) { try bind(address, name) }
            }
        case (5, "remove_id"):
            guard registered.contains(parts[3]) else { throw fail(.noSuchFileOrDirectory) }
            let words = value.split(separator: " ")
            guard words.count >= 2, let vendor = UInt16(words[0], radix: 16), let device = UInt16(words[1], radix: 16)
            else { throw fail(.invalidArgument) }
            guard dynamicIDs[parts[3], default: []].remove(PCIID(vendor: vendor, device: device)) != nil else {
                throw fail(.operationNotSupportedByDevice)
            }
        case (5, "bind"):
            let name = parts[3]
            guard let address = PCIAddress(value), driver(of: address) == nil, registered.contains(name),
                overrideAllows(address, name)
            else { throw fail(.operationNotSupportedByDevice) }
            try bind(address, name)
        case (5, "reset") where parts[0...2] == ["bus", "pci", "devices"]:
            guard let address = PCIAddress(parts[3]) else { throw fail(.invalidArgument) }
            let dir = sys.path(of: address) ?? ""
            let method = (try? sys.tree.readString("\(dir)/reset_method"))??.split(separator: " ").first.map(String.init)
            guard let method else { throw fail(.inappropriateIOCTLForDevice) }
            // The kernel's bus reset needs the function alone on its bus.
            if method == "bus", (try allAddresses()).contains(where: { $0.slot == address.slot && $0 != address }) {
                throw fail(.inappropriateIOCTLForDevice)
            }
            resets.append("\(method) \(address)")
            if wedged[address]?.contains(method) == true { try unwedge(address) }
        case (5, "remove") where parts[0...2] == ["bus", "pci", "devices"]:
            guard let address = PCIAddress(parts[3]) else { throw fail(.invalidArgument) }
            try sys.remove(address)
            if wedged[address] != nil { unwedgeOnNextAdd.insert(address) }
        case (_, "rescan") where parts.contains("pci_bus"):
            // devices/…/<bridge>/pci_bus/<bus>/rescan
            let bridge = parts.dropLast(3).last.flatMap(PCIAddress.init)
            for address in sys.removedDevices(under: bridge) {
                try sys.rescan(address)
                if unwedgeOnNextAdd.remove(address) != nil { wedged[address] = nil }
                try probe(address)
            }
        default:
            try sys.tree.writeAttribute(value, to: relative)
        }
    }

    private var unwedgeOnNextAdd: Set<PCIAddress> = []

    /// Forgets the recorded writes, binds and resets (after a test's set-up).
    public func resetLog() {
        writes = []
        binds = []
        resets = []
    }

    /// Makes `address` read all ones in config space until reset by one of `fixedBy`.
    public func wedge(_ address: PCIAddress, fixedBy methods: Set<String>) throws {
        wedged[address] = methods
        try sys.setConfigVendor(address, 0xffff)
    }

    /// The VFIO hot reset, as the engine's seam: resets every function of the device's slot.
    public func hotReset(group: Int, device: String) -> String? {
        guard let address = PCIAddress(device) else { return "bad device" }
        resets.append("slot \(address.slot)")
        for other in (try? allAddresses()) ?? [] where other.slot == address.slot {
            if wedged[other]?.contains("slot") == true { try? unwedge(other) }
        }
        return nil
    }

    private func unwedge(_ address: PCIAddress) throws {
        wedged[address] = nil
        guard let id = identity(of: address) else { return }
        try sys.setConfigVendor(address, id.vendor)
    }

    /// What a plain probe does: the override decides when set; else dynamic IDs, then static tables.
    public func probe(_ address: PCIAddress) throws {
        if !ignoresOverride, let override = self.override(of: address) {
            if registered.contains(override) { try bind(address, override) }
            return
        }
        guard let id = identity(of: address) else { return }
        if let dynamic = dynamicIDs.first(where: { $0.value.contains(id) && registered.contains($0.key) }) {
            try bind(address, dynamic.key)
        } else if let host = hostDrivers[id], registered.contains(host) {
            try bind(address, host)
        }
    }

    private func bind(_ address: PCIAddress, _ driver: String) throws {
        binds.append("\(address) \(driver)")
        try sys.bind(address, to: driver)
    }

    public func driver(of address: PCIAddress) -> String? {
        guard let dir = sys.path(of: address) else { return nil }
        return (try? sys.tree.readLinkName("\(dir)/driver")) ?? nil
    }

    private func override(of address: PCIAddress) -> String? {
        guard let dir = sys.path(of: address), let text = try? sys.tree.readString("\(dir)/driver_override"),
            text != "(null)", !text.isEmpty
        else { return nil }
        return text
    }

    private func overrideAllows(_ address: PCIAddress, _ driver: String) -> Bool {
        ignoresOverride || override(of: address).map { $0 == driver } ?? true
    }

    private func identity(of address: PCIAddress) -> PCIID? {
        try? PCISysfs(sysfs: sys.tree).read(address)?.id
    }

    private func allAddresses() throws -> [PCIAddress] {
        (try sys.tree.list(PCISysfs.devicesDirectory) ?? []).compactMap(PCIAddress.init)
    }
}
