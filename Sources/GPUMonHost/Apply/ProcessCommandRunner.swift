import Foundation

/// The real ``CommandRunner``: Foundation's `Process`, no shell, looking programs up in the system directories
/// rather than `$PATH` (gpumon runs as root; a writable `$PATH` entry must not decide what runs).
public struct ProcessCommandRunner: CommandRunner {
    /// Where programs are looked up, in order.
    public static let searchPath = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    public init() {}

    public func locate(_ program: String) -> String? {
        if program.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        for dir in Self.searchPath {
            let candidate = dir + "/" + program
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public func run(_ argv: [String]) throws(HostError) -> CommandOutput {
        let shown = argv.joined(separator: " ")
        guard let program = argv.first, let path = locate(program) else {
            throw .commandFailed(command: shown, status: 127, output: "\(argv.first ?? "") not found")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = Array(argv.dropFirst())
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            throw .commandFailed(command: shown, status: 126, output: "\(error)")
        }
        // Read both pipes to the end before waiting, so a chatty command cannot block on a full pipe. stderr is
        // read on another thread for the same reason.
        let errData = ErrorCollector(handle: err.fileHandleForReading)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = errData.wait()
        process.waitUntilExit()
        return CommandOutput(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// Drains a pipe on a background thread.
private final class ErrorCollector: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once by the reader thread before `done` is signalled, read after waiting on it.
    private var data = Data()

    init(handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
