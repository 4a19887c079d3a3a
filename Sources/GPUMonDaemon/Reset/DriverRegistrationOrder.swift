public import HostFS
public import Kmod

/// Which host drivers would win a freshly added device over the target driver.
///
/// When the kernel adds a device it offers it to the bus's drivers in the order they registered; the first whose
/// ID table (or dynamic IDs) matches binds it — `driver_override` cannot help, because the new device object
/// starts without one. So a remove+rescan keeps a GPU away from its host driver only if the target driver
/// (holding a dynamic ID for the GPU) registered before every host driver that matches it:
/// - a driver built into the kernel (`modules.builtin`, e.g. `xhci_pci` for a Turing card's USB-C function)
///   registered during boot, before every loadable module;
/// - among loaded modules, load order stands in for registration order: `/proc/modules` lists the newest first.
/// Aliases are looked up in the kernel's binary module index through libkmod (``ModuleIndex``).
public struct DriverRegistrationOrder: Sendable {
    public let proc: FileTree
    /// Modules matching a modalias (libkmod in production; a table in tests).
    public let lookup: @Sendable (String) -> [ModuleIndex.Match]

    public init(proc: FileTree, lookup: @escaping @Sendable (String) -> [ModuleIndex.Match]) {
        self.proc = proc
        self.lookup = lookup
    }

    /// The running kernel's index under `root` (`/`): `lib/modules/<osrelease>`. Without an index nothing
    /// matches, as before libkmod (a host without modules installed has only what is built in and loaded).
    public static func system(proc: FileTree, root: FileTree = FileTree(root: "/")) -> DriverRegistrationOrder {
        let release = ((try? proc.readString("sys/kernel/osrelease")) ?? nil) ?? ""
        let index = release.isEmpty ? nil : ModuleIndex(modulesDirectory: root.path("lib/modules/\(release)"))
        return DriverRegistrationOrder(proc: proc) { modalias in index?.lookup(modalias) ?? [] }
    }

    /// Host drivers that match `modalias` and registered before `targetModule` (e.g. `vfio_pci`), each with why.
    /// Empty means a rescan hands the device to the target driver.
    public func earlierMatchingModules(modalias: String, targetModule: String) -> [String] {
        let target = normalize(targetModule)
        let loaded = (((try? proc.readString("modules")) ?? nil) ?? "").split(separator: "\n")
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        // Not in /proc/modules: the target is built in (or not loaded at all, and then it cannot bind anything).
        let targetIndex = loaded.firstIndex(of: target)
        var earlier: [String] = []
        for match in lookup(modalias) where normalize(match.name) != target {
            let name = normalize(match.name)
            if match.builtin {
                // Built in: registered at boot. Before a loadable target for sure; against a built-in target the
                // order is link order, which gpumon cannot see: fail closed.
                earlier.append(targetIndex == nil ? "\(name) (built in, like \(target): order unknown)" : "\(name) (built in)")
            } else if let index = loaded.firstIndex(of: name), let targetIndex, index > targetIndex {
                earlier.append(name)
            }
        }
        return earlier
    }

    private func normalize(_ name: String) -> String { String(name.map { $0 == "-" ? "_" : $0 }) }
}
