import FoundationEssentials
public import GPUMonCore
import HostFS

/// What a destructive reset step is doing, written to `state_dir` before the first write and removed after the
/// last: a daemon killed in the middle finds it on restart and repairs (rescans a bridge whose functions are
/// missing, removes dynamic IDs it added).
public struct ResetJournal: Codable, Sendable, Equatable {
    public var method: String
    public var functions: [String]
    public var bridge: String?
    /// The bridge's secondary bus directory, relative to the sysfs root (`devices/…/pci_bus/0000:01`).
    public var busDirectory: String?
    /// `VVVV DDDD` entries this reset added to the target driver's `new_id`, to remove again.
    public var addedIDs: [String]
    public var targetDriver: String
    public var started: Double

    public static let fileName = "reset-journal.json"

    static func load(stateDirectory: String) -> ResetJournal? {
        guard let text = try? FileTree(root: stateDirectory).readString(fileName) else { return nil }
        return try? JSONDecoder().decode(ResetJournal.self, from: Data(text.utf8))
    }

    func save(stateDirectory: String) throws {
        let tree = FileTree(root: stateDirectory)
        try FileTree(root: "/").createDirectory(stateDirectory)
        let data = try JSONEncoder().encode(self)
        try tree.writeFileAtomically(String(decoding: data, as: UTF8.self), to: ResetJournal.fileName)
    }

    static func remove(stateDirectory: String) {
        try? FileTree(root: stateDirectory).removeFile(fileName)
    }
}
