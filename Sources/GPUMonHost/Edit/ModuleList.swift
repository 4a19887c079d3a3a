/// A file that names kernel modules one per line, `#` comments allowed: `/etc/modules`,
/// `/etc/modules-load.d/*.conf` (`modules-load.d(5)`) and `/etc/initramfs-tools/modules` (`initramfs.conf(5)`).
///
/// Only missing modules are appended; existing lines, comments and module options stay where they are.
public struct ModuleList: Sendable, Equatable {
    public private(set) var text: String

    public init(text: String) { self.text = text }

    /// The module named on each non-comment line, normalised (`vfio-pci` → `vfio_pci`).
    public var modules: [String] {
        text.split(separator: "\n").compactMap { line in
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return content.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(KernelModules.normalize)
        }
    }

    /// The names in `wanted` that no line lists.
    public func missing(_ wanted: [String]) -> [String] {
        let present = Set(modules)
        return wanted.filter { !present.contains(KernelModules.normalize($0)) }
    }

    /// Appends the names in `wanted` that are missing, each on its own line, after a comment saying why.
    public mutating func add(_ wanted: [String]) {
        let missing = missing(wanted)
        guard !missing.isEmpty else { return }
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        text += "# VFIO for GPU passthrough (gpumon setup)\n"
        text += missing.map { $0 + "\n" }.joined()
    }
}
