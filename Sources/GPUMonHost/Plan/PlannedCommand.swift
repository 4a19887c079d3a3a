/// A command gpumon runs (or, in a dry run or under `--root`, prints): a program and its arguments, run without
/// a shell, with the reason shown to the operator.
public struct PlannedCommand: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The program and its arguments; the program is looked up in the standard system directories.
    public var argv: [String]
    /// Why it runs, for the plan printout.
    public var why: String

    public init(_ argv: [String], why: String) {
        self.argv = argv
        self.why = why
    }

    /// The command as one would type it; arguments with blanks are single-quoted.
    public var description: String {
        argv.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}
