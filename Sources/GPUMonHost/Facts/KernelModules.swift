/// What the running kernel offers, from `/lib/modules/<release>/modules.builtin` and `modules.dep`: which
/// modules are built in and which can be loaded. Names are normalised to underscores (`vfio-pci` → `vfio_pci`),
/// the way the kernel and modprobe compare them.
public struct KernelModules: Sendable, Equatable {
    /// The running kernel's release (`uname -r`, read from `/proc/sys/kernel/osrelease`); `nil` when unknown.
    public var release: String?
    public var builtin: Set<String>
    public var loadable: Set<String>

    public init(release: String?, builtin: Set<String> = [], loadable: Set<String> = []) {
        self.release = release
        self.builtin = builtin
        self.loadable = loadable
    }

    /// Whether the module lists were found at all; without them gpumon assumes a current kernel.
    public var isKnown: Bool { !builtin.isEmpty || !loadable.isEmpty }

    /// Whether the kernel has `name`, built in or as a module.
    public func has(_ name: String) -> Bool {
        let key = KernelModules.normalize(name)
        return builtin.contains(key) || loadable.contains(key)
    }

    public func isBuiltin(_ name: String) -> Bool { builtin.contains(KernelModules.normalize(name)) }

    /// `vfio-pci` → `vfio_pci`.
    public static func normalize(_ name: some StringProtocol) -> String {
        String(name.map { $0 == "-" ? "_" : $0 })
    }

    /// The module names of a `modules.builtin` or `modules.dep` text: the first path of each line, without
    /// directories and the `.ko`, `.ko.xz`, `.ko.zst` or `.ko.gz` suffix.
    public static func names(inModuleList text: String) -> Set<String> {
        var names: Set<String> = []
        for line in text.split(separator: "\n") {
            let path = line.split(separator: ":", maxSplits: 1).first ?? line
            guard let file = path.split(separator: "/").last, let ko = file.firstRange(of: ".ko") else { continue }
            names.insert(normalize(file[..<ko.lowerBound]))
        }
        return names
    }
}
