public import GPUMonCore
public import HostFS

#if canImport(Glibc)
import Glibc
#endif

/// Finds the processes that hold a passthrough device open, by reading `/proc/<pid>/fd` links.
///
/// A VMM holds a VFIO device one of two ways:
/// - the legacy group interface: `/dev/vfio/<group>` (every libvirt before 12.1);
/// - IOMMUFD: the device's own character device `/dev/vfio/devices/vfioN` (sysfs names it under the device as
///   `vfio-dev/vfioN`) plus `/dev/iommu`, with no group node open at all (libvirt ≥ 12.1's IOMMUFD backend).
/// Both mean "in use by a VM": gpumon never unbinds, resets or removes such a device. The daemon's own
/// descriptors (a group it holds during a reset) are not counted.
public struct VFIOHolderScanner: Sendable {
    public let proc: FileTree
    /// Maps an IOMMUFD device node back to its PCI function and that function's group.
    public let sysfs: FileTree

    public init(proc: FileTree, sysfs: FileTree = FileTree(root: "/sys")) {
        self.proc = proc
        self.sysfs = sysfs
    }

    /// Who holds what, at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// IOMMU groups held open (through `/dev/vfio/<group>`, or through an IOMMUFD device node of a function
        /// in that group), with the PIDs.
        public var groups: [Int: Set<Int32>] = [:]
        /// Functions held through their IOMMUFD device node (`/dev/vfio/devices/vfioN`).
        public var devices: [PCIAddress: Set<Int32>] = [:]
        /// Processes holding `/dev/iommu` (an IOMMUFD user; which device it uses is in ``devices``).
        public var iommufd: Set<Int32> = []
    }

    /// The IOMMU groups held open, with the PIDs holding each.
    public func holders() -> [Int: Set<Int32>] { snapshot().groups }

    /// Every VFIO holder. Processes that exit or deny access while being read are skipped: it is a snapshot.
    public func snapshot() -> Snapshot {
        var result = Snapshot()
        var cdevHolders: [String: Set<Int32>] = [:]
        for (pid, target) in openFiles() {
            if target == "/dev/iommu" {
                result.iommufd.insert(pid)
            } else if target.hasPrefix("/dev/vfio/devices/") {
                cdevHolders[String(target.dropFirst("/dev/vfio/devices/".count)), default: []].insert(pid)
            } else if target.hasPrefix("/dev/vfio/"), let group = Int(target.dropFirst("/dev/vfio/".count)) {
                result.groups[group, default: []].insert(pid)
            }
        }
        if !cdevHolders.isEmpty {
            for (address, node) in vfioDeviceNodes() {
                guard let pids = cdevHolders[node] else { continue }
                result.devices[address, default: []].formUnion(pids)
                let group = ((try? sysfs.readLinkName("\(PCISysfs.devicePath(address))/iommu_group")) ?? nil)
                    .flatMap { Int($0) }
                if let group { result.groups[group, default: []].formUnion(pids) }
            }
        }
        return result
    }

    /// Holders of a function's host-driver device nodes: its DRM nodes (`/dev/dri/cardN`, `/dev/dri/renderDN`,
    /// from sysfs `drm/`) and NVIDIA's per-GPU node (`/dev/nvidiaN`, N the "Device Minor" in
    /// `/proc/driver/nvidia/gpus/<address>/information`). Unbinding a driver under such a holder can hang the
    /// unbinding process (`NVRM: Attempting to remove device … with non-zero usage count`).
    public func hostNodeHolders(of address: PCIAddress) -> [String: Set<Int32>] {
        var nodes: Set<String> = []
        let dir = PCISysfs.devicePath(address)
        for name in ((try? sysfs.list("\(dir)/drm")) ?? nil) ?? [] where name.hasPrefix("card") || name.hasPrefix("renderD") {
            nodes.insert("/dev/dri/\(name)")
        }
        if let info = (try? proc.readString("driver/nvidia/gpus/\(address)/information")) ?? nil {
            for line in info.split(separator: "\n") where line.hasPrefix("Device Minor:") {
                if let minor = Int(line.dropFirst("Device Minor:".count).trimmingCharacters()) {
                    nodes.insert("/dev/nvidia\(minor)")
                }
            }
        }
        guard !nodes.isEmpty else { return [:] }
        var result: [String: Set<Int32>] = [:]
        for (pid, target) in openFiles() where nodes.contains(target) { result[target, default: []].insert(pid) }
        return result
    }

    /// `vfio-dev/vfioN` of every PCI function that has one.
    private func vfioDeviceNodes() -> [(PCIAddress, String)] {
        let names = ((try? sysfs.list(PCISysfs.devicesDirectory)) ?? nil) ?? []
        return names.compactMap { name in
            guard let address = PCIAddress(name),
                let node = ((try? sysfs.list("\(PCISysfs.devicePath(address))/vfio-dev")) ?? nil)?.first
            else { return nil }
            return (address, node)
        }
    }

    /// Every open file of every other process, as (pid, link target).
    private func openFiles() -> [(Int32, String)] {
        var result: [(Int32, String)] = []
        let own = getpid()
        guard let entries = try? proc.list("") else { return result }
        for entry in entries {
            guard let pid = Int32(entry), pid != own, let fds = try? proc.list("\(entry)/fd") else { continue }
            for fd in fds {
                guard let target = try? proc.readLink("\(entry)/fd/\(fd)") else { continue }
                result.append((pid, target))
            }
        }
        return result
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
