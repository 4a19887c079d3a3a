/// What `setup --apply` did, step by step, including how far it got when a step failed.
public struct SetupResult: Sendable, Equatable {
    /// A file written, with the backup of its previous contents (`nil` for a new file).
    public struct WrittenFile: Sendable, Equatable {
        public var path: String
        public var backup: String?
    }

    /// A regeneration command and its output; `output` is `nil` when it was only printed (under `--root`).
    public struct RanCommand: Sendable, Equatable {
        public var command: PlannedCommand
        public var output: CommandOutput?
    }

    public var written: [WrittenFile] = []
    public var commands: [RanCommand] = []
    /// The step that failed; the steps before it are done, the ones after it are not.
    public var failure: HostError?

    public init() {}
}
