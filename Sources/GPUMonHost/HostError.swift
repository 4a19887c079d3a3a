public import HostFS

/// Why host preparation cannot start or finish. Each prints as one line; the CLI maps ``isUsage`` to exit
/// status 2 and everything else to 3 (`docs/cli.md`).
public enum HostError: Error, Equatable, CustomStringConvertible {
    /// `--root` is not an existing directory.
    case badRoot(path: String)
    /// `/etc/os-release` (and `/usr/lib/os-release`) are absent under the root.
    case noOSRelease(path: String)
    /// The distribution is not one gpumon knows how to prepare.
    case unsupportedDistribution(id: String, name: String)
    /// A file could not be read or written (path and errno inside).
    case io(FSError)
    /// After writing, the file did not read back as written.
    case verifyFailed(path: String)
    /// The file changed between planning and writing (another editor, a package upgrade).
    case changedSincePlanning(path: String)
    /// A regeneration command could not be started or exited non-zero.
    case commandFailed(command: String, status: Int32, output: String)

    /// Whether the error is about the input (root, host) rather than a failure while running.
    public var isUsage: Bool {
        switch self {
        case .badRoot, .noOSRelease, .unsupportedDistribution: return true
        case .io, .verifyFailed, .changedSincePlanning, .commandFailed: return false
        }
    }

    public var description: String {
        switch self {
        case .badRoot(let path):
            return "--root \(path): not an existing directory"
        case .noOSRelease(let path):
            return "\(path) does not exist: cannot tell which distribution this is"
        case .unsupportedDistribution(let id, let name):
            return "unsupported distribution \"\(name.isEmpty ? id : name)\" (ID=\(id)): gpumon prepares Ubuntu, "
                + "Debian and Rocky Linux (and RHEL/AlmaLinux)"
        case .io(let error):
            return error.description
        case .verifyFailed(let path):
            return "\(path): the file does not read back as written"
        case .changedSincePlanning(let path):
            return "\(path) changed while gpumon was planning; nothing more was written, run setup again"
        case .commandFailed(let command, let status, let output):
            let tail = output.split(separator: "\n").last.map { ": \($0)" } ?? ""
            return "\(command) failed (exit \(status))\(tail)"
        }
    }
}
