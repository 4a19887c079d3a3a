import ArgumentParser
import GPUMonCore
import GPUMonDaemon
import HostFS
import Logging

/// `gpumon daemon`: keeps every selected device on the target driver, driven by uevents.
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Keep every selected device on the target driver, reacting to PCI uevents.",
        discussion: """
            Reconciles every selected device at start, then acts only on uevents (add, remove, bind, unbind). \
            SIGHUP reloads the config (an invalid one is rejected and the running one kept); SIGTERM and SIGINT \
            stop it. Under systemd it logs to the journal with structured fields and speaks sd_notify. \
            See docs/daemon.md.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Log every action the daemon would take and write nothing.")
    var dryRun = false

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: String = "info"

    @Option(name: .long, help: ArgumentHelp("The control socket (default: [daemon] socket).", valueName: "path"))
    var socket: String?

    @Option(name: .customLong("proc-root"), help: .hidden)
    var procRoot: String = "/proc"

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("The state directory (default: [daemon] state_dir).",
        valueName: "dir"))
    var stateDirectory: String?

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error")
        }
        if let socket, !socket.hasPrefix("/") { throw ValidationError("--socket must be an absolute path") }
    }

    func run() async throws {
        let config = try global.loadConfig()
        let options = Daemon.Options(
            configPath: global.resolvedConfigPath, sysfs: global.sysfs, proc: FileTree(root: procRoot),
            dryRun: dryRun, socketPath: socket, stateDirectory: stateDirectory.map(absolutePath),
            logLevel: Logger.Level(rawValue: logLevel) ?? .info)
        do {
            try await Daemon(options: options).run(config: config)
        } catch {
            throw CLIError(message: "daemon: \(error)", status: .runtime)
        }
    }
}
