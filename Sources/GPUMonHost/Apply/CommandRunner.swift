/// Runs programs without a shell. The real one is ``ProcessCommandRunner``; tests pass a fake that records
/// the commands and returns scripted output, so nothing on the build machine is touched.
public protocol CommandRunner: Sendable {
    /// The absolute path of `program` when it is installed, `nil` otherwise.
    func locate(_ program: String) -> String?

    /// Runs `argv` to completion and returns its exit status and output.
    ///
    /// - Throws: ``HostError/commandFailed(command:status:output:)`` when the program cannot be started.
    func run(_ argv: [String]) throws(HostError) -> CommandOutput
}

/// What a finished command produced.
public struct CommandOutput: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String = "", stderr: String = "") {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}
