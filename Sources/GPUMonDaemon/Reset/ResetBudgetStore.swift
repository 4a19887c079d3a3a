import FoundationEssentials
public import GPUMonCore
import HostFS

/// Keeps the reset budget (history and quarantines) in `state_dir/resets.json`, written atomically, so a restart
/// does not hand a misbehaving GPU a fresh budget.
public struct ResetBudgetStore: Sendable {
    public let stateDirectory: String
    public static let fileName = "resets.json"

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    /// The stored budget; an absent file is an empty budget, an unreadable one is reported and treated as empty.
    public func load() -> (ResetBudget, problem: String?) {
        let tree = FileTree(root: stateDirectory)
        let text: String?
        do {
            text = try tree.readString(ResetBudgetStore.fileName)
        } catch {
            return (ResetBudget(), "cannot read \(tree.path(ResetBudgetStore.fileName)): \(error)")
        }
        guard let text else { return (ResetBudget(), nil) }
        do {
            return (try JSONDecoder().decode(ResetBudget.self, from: Data(text.utf8)), nil)
        } catch {
            return (ResetBudget(), "\(tree.path(ResetBudgetStore.fileName)) is not a valid reset history; starting empty")
        }
    }

    public func save(_ budget: ResetBudget) throws {
        let tree = FileTree(root: stateDirectory)
        try FileTree(root: "/").createDirectory(stateDirectory, mode: 0o700)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try tree.writeFileAtomically(String(decoding: try encoder.encode(budget), as: UTF8.self),
            to: ResetBudgetStore.fileName)
    }
}
