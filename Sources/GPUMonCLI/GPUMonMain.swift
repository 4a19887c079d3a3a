import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The process entry point: runs the command and maps every failure to one stderr line and a documented exit
/// status (argument-parser's own usage status, 64, becomes 2).
public enum GPUMonMain {
    public static func main() async -> Never {
        do {
            var command = try GPUMon.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit(ExitStatus.ok.rawValue)
        } catch let error as CLIError {
            printError("gpumon: \(error.message)")
            exit(error.status.rawValue)
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch {
            let code = GPUMon.exitCode(for: error)
            if code == .success {
                GPUMon.exit(withError: error)  // --help, --version
            }
            if code == .validationFailure {
                let message = GPUMon.message(for: error).split(separator: "\n").first.map(String.init) ?? "bad usage"
                printError("gpumon: \(message) (see 'gpumon help')")
                exit(ExitStatus.usage.rawValue)
            }
            printError("gpumon: \(GPUMon.message(for: error))")
            exit(ExitStatus.runtime.rawValue)
        }
    }
}

func printError(_ line: String) {
    var text = line
    if !text.hasSuffix("\n") { text += "\n" }
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
