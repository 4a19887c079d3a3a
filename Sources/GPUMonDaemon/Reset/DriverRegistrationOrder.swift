public import HostFS

#if canImport(Glibc)
import Glibc
#endif

/// Which host drivers would win a freshly added device over the target driver.
///
/// When the kernel adds a device it offers it to the bus's drivers in the order they registered; the first whose
/// ID table (or dynamic IDs) matches binds it — `driver_override` cannot help, because the new device object
/// starts without one. So a remove+rescan keeps a GPU away from its host driver only if the target driver
/// (holding a dynamic ID for the GPU) registered before every loaded host driver that matches it. Module load
/// order stands in for registration order: `/proc/modules` lists the newest first.
public struct DriverRegistrationOrder: Sendable {
    public let sysfs: FileTree
    public let proc: FileTree
    public let root: FileTree

    public init(sysfs: FileTree, proc: FileTree, root: FileTree = FileTree(root: "/")) {
        self.sysfs = sysfs
        self.proc = proc
        self.root = root
    }

    /// Loaded modules that match `modalias` and registered before `targetModule` (e.g. `vfio_pci`).
    /// Empty means a rescan hands the device to the target driver.
    public func earlierMatchingModules(modalias: String, targetModule: String) -> [String] {
        guard let modules = try? proc.readString("modules") else { return [] }
        let loaded = modules.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        let target = normalize(targetModule)
        // Built in (not in /proc/modules): registered before every module.
        guard let targetIndex = loaded.firstIndex(of: target) else { return [] }
        let olderThanTarget = Set(loaded[(targetIndex + 1)...])
        guard !olderThanTarget.isEmpty else { return [] }
        let matching = matchingModules(modalias: modalias)
        return loaded.filter { olderThanTarget.contains($0) && matching.contains($0) }
    }

    /// Modules whose `modules.alias` patterns match `modalias`.
    func matchingModules(modalias: String) -> Set<String> {
        guard let release = try? proc.readString("sys/kernel/osrelease"),
            let aliases = try? root.readString("lib/modules/\(release)/modules.alias", maxBytes: 32 << 20)
        else { return [] }
        var result: Set<String> = []
        for line in aliases.split(separator: "\n") where line.hasPrefix("alias pci:") {
            let parts = line.split(separator: " ")
            guard parts.count >= 3 else { continue }
            if fnmatch(String(parts[1]), modalias, 0) == 0 { result.insert(normalize(String(parts[2]))) }
        }
        return result
    }

    private func normalize(_ name: String) -> String { name.replacingDashes() }
}

extension String {
    fileprivate func replacingDashes() -> String { String(map { $0 == "-" ? "_" : $0 }) }
}
