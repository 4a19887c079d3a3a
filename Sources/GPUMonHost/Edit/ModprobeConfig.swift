public import GPUMonCore

/// A `modprobe.d(5)` file: `options vfio-pci ids=…`, `softdep DRIVER pre: vfio-pci` and `blacklist DRIVER`
/// lines. Editing keeps every other line and every other option on an edited line.
public struct ModprobeConfig: Sendable, Equatable {
    public private(set) var lines: [String]

    /// The module that takes the IDs, as the guide spells it.
    static let vfioPCI = "vfio-pci"

    public init(text: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        self.lines = lines
    }

    public var text: String { lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n" }

    // MARK: - Reading

    /// The words of each non-comment line.
    private var statements: [(index: Int, words: [String])] {
        lines.enumerated().compactMap { index, line in
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            return words.isEmpty ? nil : (index, words)
        }
    }

    /// The `ids=` of `options vfio-pci` lines (the last one wins, as for any module parameter); `nil` when no line
    /// sets them. Unparseable entries are returned in `invalid`.
    public var vfioIDs: (ids: [PCIID], invalid: [String])? {
        var result: (ids: [PCIID], invalid: [String])?
        for statement in statements where isVFIOOptions(statement.words) {
            for word in statement.words.dropFirst(2) where word.hasPrefix("ids=") {
                var ids: [PCIID] = []
                var invalid: [String] = []
                for item in word.dropFirst(4).split(separator: ",") {
                    // vfio-pci also accepts VENDOR:DEVICE:SUBVENDOR:SUBDEVICE…; the first two pick the function.
                    let parts = item.split(separator: ":")
                    if parts.count >= 2, let id = try? PCIID(parsing: "\(parts[0]):\(parts[1])") {
                        ids.append(id)
                    } else {
                        invalid.append(String(item))
                    }
                }
                result = (ids, invalid)
            }
        }
        return result
    }

    /// Whether `softdep DRIVER pre: … vfio-pci …` is present for `driver`.
    public func hasSoftdep(_ driver: String) -> Bool {
        statements.contains { statement in
            isSoftdep(statement.words, for: driver) && preModules(statement.words).contains("vfio_pci")
        }
    }

    /// Whether `blacklist DRIVER` or `install DRIVER /bin/false` (or `/bin/true`) keeps `driver` from loading.
    public func blacklists(_ driver: String) -> Bool {
        let key = KernelModules.normalize(driver)
        return statements.contains { statement in
            let words = statement.words
            guard words.count >= 2, KernelModules.normalize(words[1]) == key else { return false }
            return words[0] == "blacklist"
                || (words[0] == "install" && words.count >= 3 && ["/bin/false", "/bin/true"].contains(words[2]))
        }
    }

    // MARK: - Editing

    /// Makes `options vfio-pci ids=` list exactly `ids` (a comma list, in this order), keeping the line's other
    /// options; removes `ids=` from any other `options vfio-pci` line so only one sets them.
    public mutating func setVFIOIDs(_ ids: [PCIID]) {
        let value = ids.map(\.description).joined(separator: ",")
        if let current = vfioIDs, current.invalid.isEmpty, Set(current.ids) == Set(ids) { return }
        let optionLines = statements.filter { isVFIOOptions($0.words) }
        let target = optionLines.last { $0.words.contains { $0.hasPrefix("ids=") } } ?? optionLines.first
        for statement in optionLines where statement.index != target?.index {
            let kept = statement.words.filter { !$0.hasPrefix("ids=") }
            if kept.count != statement.words.count {
                lines[statement.index] = kept.count > 2
                    ? kept.joined(separator: " ") + ModprobeConfig.comment(of: lines[statement.index]) : ""
            }
        }
        if let target {
            var words = target.words.filter { !$0.hasPrefix("ids=") }
            words.insert("ids=" + value, at: 2)
            lines[target.index] = words.joined(separator: " ") + ModprobeConfig.comment(of: lines[target.index])
        } else {
            lines.append("options \(ModprobeConfig.vfioPCI) ids=\(value)")
        }
        // Lines emptied above came from options lines that only set ids; drop them rather than leave holes.
        lines = lines.enumerated().filter { index, line in
            !(line.isEmpty && optionLines.contains { $0.index == index })
        }.map(\.element)
    }

    /// Makes vfio-pci a soft pre-dependency of `driver`: modprobe then loads vfio-pci first, and vfio-pci claims
    /// the IDs before the host driver probes them. An existing `softdep` line for the driver gets `vfio-pci`
    /// added to its `pre:` list; otherwise a line is appended.
    public mutating func addSoftdep(_ driver: String) {
        guard !hasSoftdep(driver) else { return }
        // modprobe uses the last softdep line of a module; extend that one.
        if let statement = statements.last(where: { isSoftdep($0.words, for: driver) }) {
            var words = statement.words
            if let pre = words.firstIndex(of: "pre:") {
                words.insert(ModprobeConfig.vfioPCI, at: pre + 1)
            } else {
                words.insert(contentsOf: ["pre:", ModprobeConfig.vfioPCI], at: 2)
            }
            lines[statement.index] = words.joined(separator: " ") + ModprobeConfig.comment(of: lines[statement.index])
        } else {
            lines.append("softdep \(driver) pre: \(ModprobeConfig.vfioPCI)")
        }
    }

    // MARK: - Helpers

    /// A trailing `# comment` of a line, with the blanks before it, so a rewritten line keeps it.
    private static func comment(of line: String) -> String {
        guard let hash = line.firstIndex(of: "#") else { return "" }
        let before = line[..<hash]
        let blanks = before.reversed().prefix(while: { $0 == " " || $0 == "\t" })
        return String(blanks.isEmpty ? " " : String(blanks)) + line[hash...]
    }

    private func isVFIOOptions(_ words: [String]) -> Bool {
        words.count >= 2 && words[0] == "options" && KernelModules.normalize(words[1]) == "vfio_pci"
    }

    private func isSoftdep(_ words: [String], for driver: String) -> Bool {
        words.count >= 2 && words[0] == "softdep"
            && KernelModules.normalize(words[1]) == KernelModules.normalize(driver)
    }

    private func preModules(_ words: [String]) -> [String] {
        guard let pre = words.firstIndex(of: "pre:") else { return [] }
        return words[(pre + 1)...].prefix(while: { $0 != "post:" }).map(KernelModules.normalize)
    }
}
