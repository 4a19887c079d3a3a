public import HostFS

/// Finds the processes that hold `/dev/vfio/<group>` open, by reading `/proc/<pid>/fd` links.
///
/// A group open in QEMU (or any VMM) is a device in use by a VM: gpumon never unbinds or resets it.
public struct VFIOHolderScanner: Sendable {
    public let proc: FileTree

    public init(proc: FileTree) { self.proc = proc }

    /// The IOMMU groups held open, with the PIDs holding each.
    ///
    /// Processes that exit or deny access while being read are skipped: the scan is a snapshot.
    public func holders() -> [Int: Set<Int32>] {
        var result: [Int: Set<Int32>] = [:]
        guard let entries = try? proc.list("") else { return result }
        for entry in entries {
            guard let pid = Int32(entry), let fds = try? proc.list("\(entry)/fd") else { continue }
            for fd in fds {
                guard let target = try? proc.readLink("\(entry)/fd/\(fd)"), target.hasPrefix("/dev/vfio/"),
                    let group = Int(target.dropFirst("/dev/vfio/".count))
                else { continue }
                result[group, default: []].insert(pid)
            }
        }
        return result
    }
}
