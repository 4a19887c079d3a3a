import ArgumentParser
import GPUMonCore
import GPUMonHost
import HostFS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Options of the host-preparation commands (`doctor`, `setup`): the root file system to read and write.
struct HostOptions: ParsableArguments {
    @Option(
        name: .customLong("root"),
        help: ArgumentHelp(
            "Prepare or check the system under this directory instead of / (an image, a test tree). Its sys/ is "
                + "the sysfs tree unless --sysfs-root says otherwise, its etc/gpumon/gpumon.toml the config unless "
                + "--config says otherwise; commands are printed, not run.",
            valueName: "dir"))
    var root: String?

    func validate() throws {
        if let root, !root.hasPrefix("/") { throw ValidationError("--root must be an absolute path, got \"\(root)\"") }
    }

    /// The trees to use: `--root` (or `/`), and `--sysfs-root`, else `ROOT/sys` under `--root`, else
    /// `$GPUMON_SYSFS_ROOT`, else `/sys`.
    func hostRoot(_ global: GlobalOptions) -> HostRoot {
        let files = FileTree(root: root ?? "/")
        let sysfs: FileTree
        if let explicit = global.sysfsRootOption {
            sysfs = FileTree(root: explicit)
        } else if root != nil {
            sysfs = files.subtree("sys")
        } else {
            sysfs = global.sysfs
        }
        return HostRoot(files: files, sysfs: sysfs)
    }

    /// Loads the config: `--config`, else `$GPUMON_CONFIG`, else `/etc/gpumon/gpumon.toml` under the root.
    ///
    /// A `--root` that is not a directory is reported first: the config under it would be missing too, and
    /// that message would hide the real mistake.
    func loadConfig(_ global: GlobalOptions) throws(CLIError) -> Config {
        if let root, !FileTree(root: root).isDirectory("") { throw Self.cliError(.badRoot(path: root)) }
        let path = absolutePath(global.configPath ?? environment("GPUMON_CONFIG")
            ?? FileTree(root: root ?? "/").path(Config.defaultPath))
        do {
            return try ConfigLoader.load(path: path)
        } catch {
            throw CLIError(message: error.description, status: .usage)
        }
    }

    /// Maps a host error to the documented exit status: bad input 2, failures while running 3.
    static func cliError(_ error: HostError) -> CLIError {
        CLIError(message: error.description, status: error.isUsage ? .usage : .runtime)
    }
}
