/// dracut configuration (`dracut.conf(5)`): the modules named in `add_drivers+=` and `force_drivers+=`.
///
/// gpumon writes its own drop-in, `/etc/dracut.conf.d/gpumon-vfio.conf`, with `force_drivers`: dracut then both
/// includes the modules and loads them early in the initramfs, before the host GPU drivers.
public struct DracutDriverList: Sendable, Equatable {
    public private(set) var text: String

    public init(text: String) { self.text = text }

    /// Every module named in `add_drivers` or `force_drivers` assignments, normalised.
    public var drivers: Set<String> {
        var names: Set<String> = []
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: " \t")
            guard trimmed.hasPrefix("add_drivers") || trimmed.hasPrefix("force_drivers"),
                let eq = trimmed.firstIndex(of: "=")
            else { continue }
            let value = trimmed[trimmed.index(after: eq)...].filter { $0 != "\"" && $0 != "'" }
            for word in value.split(separator: " ") { names.insert(KernelModules.normalize(word)) }
        }
        return names
    }

    /// Appends a `force_drivers+=` line naming the modules of `wanted` that are missing.
    public mutating func add(_ wanted: [String]) {
        let present = drivers
        let missing = wanted.filter { !present.contains(KernelModules.normalize($0)) }
        guard !missing.isEmpty else { return }
        if text.isEmpty {
            text = "# Written by gpumon setup: put VFIO into the initramfs and load it before the GPU drivers.\n"
        } else if !text.hasSuffix("\n") {
            text += "\n"
        }
        // dracut wants blanks inside the quotes so that `+=` concatenations do not glue names together.
        text += "force_drivers+=\" \(missing.joined(separator: " ")) \"\n"
    }
}
