/// A failure a command reports as one line on stderr (`gpumon: …`) with a documented exit status.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    let status: ExitStatus
    var description: String { message }
}
