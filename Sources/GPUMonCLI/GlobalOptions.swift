public import ArgumentParser
import GPUMonCore
import HostFS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Options every subcommand takes.
public struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "The config file (default: $GPUMON_CONFIG, else /etc/gpumon/gpumon.toml).", valueName: "path"))
    var configPath: String?

    @Option(
        name: .customLong("sysfs-root"),
        help: ArgumentHelp("The sysfs mount to read and write (default: $GPUMON_SYSFS_ROOT, else /sys).",
            valueName: "dir"))
    var sysfsRootOption: String?

    @Option(name: .customLong("pci-ids"), help: .hidden)
    var pciIDsPath: String?

    public init() {}

    public mutating func validate() throws {
        if let path = configPath, path.isEmpty { throw ValidationError("--config must not be empty") }
        if let root = sysfsRootOption, !root.hasPrefix("/") {
            throw ValidationError("--sysfs-root must be an absolute path, got \"\(root)\"")
        }
    }

    /// The config path, absolute: a relative `--config` is relative to the working directory, as people expect.
    var resolvedConfigPath: String {
        absolutePath(configPath ?? environment("GPUMON_CONFIG") ?? Config.defaultPath)
    }

    var sysfs: FileTree { FileTree(root: sysfsRootOption ?? environment("GPUMON_SYSFS_ROOT") ?? "/sys") }

    func loadConfig() throws(CLIError) -> Config {
        do {
            return try ConfigLoader.load(path: resolvedConfigPath)
        } catch {
            throw CLIError(message: error.description, status: .usage)
        }
    }

    func scan() throws(CLIError) -> (topology: PCITopology, problems: [SysfsProblem]) {
        do {
            return try PCISysfs(sysfs: sysfs).scan()
        } catch {
            throw CLIError(message: error.description, status: .runtime)
        }
    }

    func pciNames() -> PCIIDDatabase {
        if let path = pciIDsPath ?? environment("GPUMON_PCI_IDS") {
            return PCIIDDatabase(tree: FileTree(root: "/"), locations: [path])
        }
        return PCIIDDatabase(tree: FileTree(root: "/"))
    }
}

/// `path` made absolute against the working directory (ConfigLoader and FileTree take absolute paths).
func absolutePath(_ path: String) -> String {
    guard !path.hasPrefix("/") else { return path }
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buffer, buffer.count) != nil else { return path }
    let cwd = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return cwd == "/" ? "/" + path : cwd + "/" + path
}

func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let string = String(cString: value)
    return string.isEmpty ? nil : string
}
