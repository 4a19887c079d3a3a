import FoundationEssentials
import GPUMonCore
import HostFS

/// What a remove+rescan is doing, written durably to `state_dir` (file and directory fsynced) before its first
/// write — `new_id` included — and removed after the last. A failure in the middle is repaired in-process from
/// it; a daemon killed in the middle finds it on restart and repairs the same way (rescans a bridge whose
/// functions are missing, puts them back on the target driver, releases captured functions, removes the
/// dynamic IDs).
public struct ResetJournal: Codable, Sendable, Equatable {
    public var method: String
    public var functions: [String]
    public var bridge: String?
    /// The bridge's secondary bus directory, relative to the sysfs root (`devices/…/pci_bus/0000:01`).
    public var busDirectory: String?
    /// `VVVV DDDD` entries this reset writes to the target driver's `new_id`, to remove again. Written before
    /// the `new_id` writes, so a crash right after one still finds it.
    public var addedIDs: [String]
    /// Entries of ``addedIDs`` the driver already had (`new_id` said `EEXIST`): not removed by the repair, they
    /// are not gpumon's. Optional: journals of older versions lack it.
    public var preexistingIDs: [String]?
    /// Unselected functions that had no driver when the reset started: a dynamic ID captures such a function,
    /// and the repair hands it back. Optional for older journals.
    public var unboundUnselected: [String]?
    public var targetDriver: String
    public var started: Double

    public static let fileName = "reset-journal.json"

    /// The dynamic IDs the repair removes.
    public var idsToRemove: [String] { addedIDs.filter { !(preexistingIDs ?? []).contains($0) } }

    /// What was found in `state_dir` at start.
    public enum Loaded: Sendable, Equatable {
        case none
        case valid(ResetJournal)
        /// Unreadable or not valid JSON (a crash mid-write on a filesystem without atomic rename, a disk error):
        /// what could be recovered from the text, why, and where the file was kept aside.
        case damaged(ResetJournal?, reason: String, keptAs: String?)
    }

    /// Reads the journal. A damaged one is renamed to `reset-journal.json.corrupt-<time>` (kept for the operator,
    /// out of the way of the next reset) and what can be read of it is returned for the repair.
    static func load(stateDirectory: String, now: Double) -> Loaded {
        let tree = FileTree(root: stateDirectory)
        let text: String
        do {
            guard let read = try tree.readString(fileName) else { return .none }
            text = read
        } catch {
            return .damaged(nil, reason: "\(error)", keptAs: keepAside(tree, now: now))
        }
        if let journal = try? JSONDecoder().decode(ResetJournal.self, from: Data(text.utf8)) {
            return .valid(journal)
        }
        return .damaged(salvage(text), reason: "\(tree.path(fileName)) is not a valid reset journal",
            keptAs: keepAside(tree, now: now))
    }

    private static func keepAside(_ tree: FileTree, now: Double) -> String? {
        let aside = "\(fileName).corrupt-\(Int(now))"
        do {
            try tree.rename(fileName, to: aside)
            try tree.syncDirectory(containing: aside)
            return tree.path(aside)
        } catch {
            return nil
        }
    }

    /// Recovers what a truncated or garbled journal still says: the quoted strings after each key. A journal
    /// cut anywhere still names the functions and the bus (they come first), which is what the repair needs.
    static func salvage(_ text: String) -> ResetJournal? {
        func strings(after key: String) -> [String] {
            guard let range = text.firstRange(of: "\"\(key)\"") else { return [] }
            var rest = text[range.upperBound...].drop { $0 == " " || $0 == ":" || $0 == "\n" }
            var found: [String] = []
            let isList = rest.first == "["
            if isList { rest = rest.dropFirst() }
            while true {
                rest = rest.drop { $0 == " " || $0 == "," || $0 == "\n" }
                guard rest.first == "\"" else { break }
                rest = rest.dropFirst()
                guard let end = rest.firstIndex(of: "\"") else { break }  // cut inside the string: drop it
                found.append(String(rest[..<end]))
                rest = rest[rest.index(after: end)...]
                if !isList { break }
            }
            return found
        }
        let functions = strings(after: "functions").filter { PCIAddress($0) != nil }
        guard !functions.isEmpty else { return nil }
        return ResetJournal(method: strings(after: "method").first ?? "remove-rescan", functions: functions,
            bridge: strings(after: "bridge").first, busDirectory: strings(after: "busDirectory").first,
            addedIDs: strings(after: "addedIDs"), preexistingIDs: strings(after: "preexistingIDs"),
            unboundUnselected: strings(after: "unboundUnselected"),
            targetDriver: strings(after: "targetDriver").first ?? "vfio-pci", started: 0)
    }

    /// Writes the journal and fsyncs it and its directory: the next write to sysfs may depend on it.
    func save(stateDirectory: String) throws {
        try FileTree(root: "/").createDirectory(stateDirectory, mode: 0o700)
        let data = try JSONEncoder().encode(self)
        try FileTree(root: stateDirectory).writeFileDurably(String(decoding: data, as: UTF8.self),
            to: ResetJournal.fileName)
    }

    static func remove(stateDirectory: String) throws {
        try FileTree(root: stateDirectory).removeFileDurably(fileName)
    }
}
