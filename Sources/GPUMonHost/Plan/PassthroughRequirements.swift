public import GPUMonCore

/// What a host must look like for the config's GPUs to be passed through: the desired state that `setup` writes
/// and `doctor` checks. Pure: built from the config, the host facts and a sysfs snapshot.
public struct PassthroughRequirements: Sendable {
    /// Parameters `GRUB_CMDLINE_LINUX` must have (IOMMU on, passthrough mode, blacklist; `vfio-pci.ids=` when
    /// vfio-pci is built into the kernel and so never reads `modprobe.d`).
    public var kernelParameters: [KernelParameter]
    /// Modules to load at boot and to put into the initramfs, in load order; built-in modules are left out.
    public var modules: [String]
    /// The IDs vfio-pci must claim (`options vfio-pci ids=`), sorted.
    public var vfioIDs: [PCIID]
    /// Drivers that get `softdep DRIVER pre: vfio-pci`.
    public var softdepDrivers: [String]
    /// Drivers put on `modprobe.blacklist=`.
    public var blacklistDrivers: [String]
    /// Whether vfio-pci is built into the kernel (then its IDs go on the command line).
    public var vfioPCIBuiltin: Bool
    /// The selected functions present on the host.
    public var selectedDevices: [PCIDevice]
    /// Things the operator should know about choices made here (IDs left out, drivers not blacklisted).
    public var notes: [String]

    /// The modules VFIO needs, in load order. `vfio_virqfd` is a module of its own only before Linux 6.2.
    static let vfioModules = ["vfio", "vfio_iommu_type1", "vfio_pci"]

    /// Computes the requirements.
    ///
    /// - Parameter topology: `nil` when sysfs cannot be read (an image being built): the config's `ids` are used
    ///   as they are, and companions cannot be known.
    public static func build(
        config: Config, facts: HostFacts, topology: PCITopology?, selection: Selection?
    ) -> PassthroughRequirements {
        var notes: [String] = []
        let kernel = facts.kernel

        var modules = vfioModules
        if kernel.loadable.contains("vfio_virqfd") { modules.insert("vfio_virqfd", at: 1) }
        let vfioPCIBuiltin = kernel.isBuiltin("vfio_pci")
        modules = modules.filter { !kernel.isBuiltin($0) }
        if !kernel.isKnown {
            notes.append("the running kernel's module lists were not found (/lib/modules/\(kernel.release ?? "?")): "
                + "assuming vfio, vfio_iommu_type1 and vfio_pci are modules and vfio_virqfd is part of vfio")
        }

        // IDs: every selected function's, except IDs that an unselected function shares (vfio-pci would take it
        // too: the console GPU of the same model); plus config IDs that match nothing here yet.
        var ids: Set<PCIID> = []
        var selected: [PCIDevice] = []
        var softdep: [String] = []
        var blacklist: [String] = []
        if let topology, let selection {
            selected = selection.selectedAddresses.compactMap { topology[$0] }
            // A driver family the host still uses for an unselected device (a console GPU of the same vendor)
            // must keep loading: blacklisting nvidia_drm would take the console's display away too.
            let hostDrivers = Set(topology.devices.filter { !selection.isSelected($0.address) }.compactMap(\.driver))
            for device in selected {
                let sharing = topology.devices.filter {
                    $0.id == device.id && !$0.isBridge && !selection.isSelected($0.address)
                }
                if let other = sharing.first {
                    let why = selection.excluded[other.address].map { " (\($0.rawValue))" } ?? " (not selected)"
                    notes.append("\(device.id) is left out of vfio-pci ids: \(other.address)\(why) has the same ID "
                        + "and would be taken too; gpumon daemon binds \(device.address) by address instead")
                } else {
                    ids.insert(device.id)
                }
                let drivers = HostDriverPolicy.drivers(for: device)
                for driver in drivers.softdep where !softdep.contains(driver) { softdep.append(driver) }
                if let used = drivers.blacklist.first(where: hostDrivers.contains) {
                    let note = "\(drivers.blacklist.joined(separator: ", ")) are not blacklisted: the host uses "
                        + "\(used) for a device gpumon does not select; the softdep still loads vfio-pci first"
                    if !notes.contains(note) { notes.append(note) }
                    continue
                }
                for driver in drivers.blacklist where !blacklist.contains(driver) { blacklist.append(driver) }
            }
            // IDs of cards not installed yet: claim them too, and keep their vendor's GPU drivers off (the
            // class is unknown without the device; a config `ids` entry names a GPU).
            for (_, id) in selection.unmatchedIDs {
                ids.insert(id)
                let drivers = HostDriverPolicy.drivers(vendor: id.vendor, pciClass: PCIClass(rawValue: 0x030000))
                for driver in drivers.softdep where !softdep.contains(driver) { softdep.append(driver) }
                if drivers.blacklist.contains(where: hostDrivers.contains) { continue }
                for driver in drivers.blacklist where !blacklist.contains(driver) { blacklist.append(driver) }
            }
        } else {
            for gpu in config.gpus { ids.formUnion(gpu.ids) }
            for id in ids {
                let drivers = HostDriverPolicy.drivers(vendor: id.vendor, pciClass: PCIClass(rawValue: 0x030000))
                for driver in drivers.softdep where !softdep.contains(driver) { softdep.append(driver) }
                for driver in drivers.blacklist where !blacklist.contains(driver) { blacklist.append(driver) }
            }
            notes.append("sysfs could not be read: using the config's ids as they are; companion functions "
                + "(HDMI audio) are only known on the host itself")
        }

        var parameters: [KernelParameter] = []
        if let iommu = facts.iommuParameter {
            parameters.append(.enabled(iommu))
        } else {
            notes.append("unknown CPU vendor: neither intel_iommu=on nor amd_iommu=on is set")
        }
        parameters.append(.exact("iommu", ["pt"]))
        if !blacklist.isEmpty { parameters.append(.includes("modprobe.blacklist", blacklist)) }
        let sortedIDs = ids.sorted()
        if vfioPCIBuiltin && !sortedIDs.isEmpty {
            parameters.append(.exact("vfio-pci.ids", sortedIDs.map(\.description)))
        }
        return PassthroughRequirements(
            kernelParameters: parameters, modules: modules, vfioIDs: sortedIDs, softdepDrivers: softdep,
            blacklistDrivers: blacklist, vfioPCIBuiltin: vfioPCIBuiltin, selectedDevices: selected, notes: notes)
    }
}
