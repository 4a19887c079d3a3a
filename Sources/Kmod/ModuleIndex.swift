internal import CKmod

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's module index, read through libkmod (the library `modprobe` uses): which modules match a
/// modalias, and whether each is built into the kernel. Lookups use the binary indexes (`modules.alias.bin`,
/// `modules.builtin.alias.bin`, `modules.builtin.bin`) that depmod writes, loaded once: a lookup costs microseconds
/// where parsing the 1.3 MB text `modules.alias` cost about a second per function.
public final class ModuleIndex: @unchecked Sendable {
    /// A module that matches an alias.
    public struct Match: Sendable, Equatable {
        /// The module name as the kernel spells it (`snd_hda_intel`, `xhci_pci`).
        public let name: String
        /// Built into the kernel image (listed in `modules.builtin`): its driver registered during boot, before
        /// any loadable module.
        public let builtin: Bool

        public init(name: String, builtin: Bool) {
            self.name = name
            self.builtin = builtin
        }
    }

    /// Only touched under `lock`: libkmod contexts are not thread-safe.
    private let context: OpaquePointer
    private let lock = PThreadMutex()

    /// Opens the index of `modulesDirectory` (`/lib/modules/<release>`; `nil`: the running kernel's), without the
    /// modprobe.d configuration (its aliases and blacklists do not change which driver the kernel binds).
    /// Returns `nil` when libkmod cannot set up a context.
    public init?(modulesDirectory: String? = nil) {
        let empty: [UnsafePointer<CChar>?] = [nil]
        let made: OpaquePointer? = empty.withUnsafeBufferPointer { paths in
            if let modulesDirectory {
                return modulesDirectory.withCString { kmod_new($0, paths.baseAddress) }
            }
            return kmod_new(nil, paths.baseAddress)
        }
        guard let made else { return nil }
        context = made
        // Map every index once (kmod would otherwise open them on each lookup); a missing one is not fatal.
        _ = kmod_load_resources(context)
    }

    deinit { kmod_unref(context) }

    /// Modules whose aliases match `modalias` (`pci:v000010DEd00002204sv…`). Empty when none does or the index
    /// cannot be read.
    public func lookup(_ modalias: String) -> [Match] {
        lock.locked {
            var list: OpaquePointer?
            guard kmod_module_new_from_lookup(context, modalias, &list) >= 0, let list else { return [] }
            defer { kmod_module_unref_list(list) }
            var result: [Match] = []
            var entry: OpaquePointer? = list
            while let current = entry {
                if let module = kmod_module_get_module(current) {
                    defer { kmod_module_unref(module) }
                    if let name = kmod_module_get_name(module) {
                        let builtin = kmod_module_get_initstate(module) == Int32(KMOD_MODULE_BUILTIN.rawValue)
                        let match = Match(name: String(cString: name), builtin: builtin)
                        if !result.contains(match) { result.append(match) }
                    }
                }
                entry = kmod_list_next(list, current)
            }
            return result
        }
    }
}

/// A pthread mutex (libkmod calls must not overlap).
private final class PThreadMutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
