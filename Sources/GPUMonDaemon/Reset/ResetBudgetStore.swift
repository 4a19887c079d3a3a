import FoundationEssentials
public import GPUMonCore
import HostFS
import SystemPackage

/// Keeps the reset budget (history and quarantines) in `state_dir/resets.json`, written atomically and durably
/// (file and directory fsynced), so a restart does not hand a misbehaving GPU a fresh budget.
///
/// Fails closed: a `resets.json` that cannot be read or parsed is kept aside as `resets.json.corrupt-<time>`
/// and replaced by a budget that refuses automatic resets of every slot (``ResetBudget/historyLost``) until
/// `gpumon clear` names it. Starting empty would lift every quarantine and reset again.
public struct ResetBudgetStore: Sendable {
    public let stateDirectory: String
    public static let fileName = "resets.json"

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    /// What ``load(now:)`` found.
    public struct Loaded: Sendable {
        public var budget: ResetBudget
        /// Set when the file was damaged: one line for the alert (what, where, where it was kept).
        public var problem: String?
    }

    /// The stored budget; an absent file is an empty budget. A damaged one gives a fail-closed budget; with
    /// `repair` (the daemon, `gpumon clear`) the damaged file is also kept aside and the fail-closed budget
    /// written back at once, so the next start finds it too. Read-only callers (`gpumon status`) pass `false`.
    public func load(now: Double, repair: Bool = true) -> Loaded {
        let tree = FileTree(root: stateDirectory)
        let path = tree.path(ResetBudgetStore.fileName)
        let reason: String
        var raw: [UInt8]?
        do {
            guard let text = try tree.readString(ResetBudgetStore.fileName, maxBytes: 16 << 20) else {
                return Loaded(budget: ResetBudget())
            }
            raw = Array(text.utf8)
            if let budget = try? JSONDecoder().decode(ResetBudget.self, from: Data(text.utf8)) {
                return Loaded(budget: budget)
            }
            reason = "\(path) is not a valid reset history"
        } catch {
            reason = "cannot read \(path): \(error)"
        }
        var budget = ResetBudget()
        let aside = "\(ResetBudgetStore.fileName).corrupt-\(Int(now))"
        var kept = repair ? "left in place" : "not changed"
        // Copy first, then replace: if either fails the damaged file stays where it is, and the next start fails
        // closed again instead of finding no history at all.
        if let raw, repair {
            do {
                try tree.writeFileAtomically(bytes: raw, to: aside, permissions: [.ownerReadWrite])
                try tree.syncDirectory(containing: aside)
                kept = "kept as \(tree.path(aside))"
            } catch {
                kept = "could not be kept aside (\(error))"
            }
        }
        let why = "\(reason) (\(kept)); automatic resets are refused until `gpumon clear`"
        budget.historyLost = ResetBudget.Quarantine(since: now, reason: why)
        if raw != nil, kept.hasPrefix("kept") { try? save(budget) }
        return Loaded(budget: budget, problem: why)
    }

    /// Writes the budget durably: when this returns, a crash cannot bring back the previous history.
    public func save(_ budget: ResetBudget) throws {
        let tree = FileTree(root: stateDirectory)
        try FileTree(root: "/").createDirectory(stateDirectory, mode: 0o700)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try tree.writeFileDurably(String(decoding: try encoder.encode(budget), as: UTF8.self),
            to: ResetBudgetStore.fileName)
    }
}
