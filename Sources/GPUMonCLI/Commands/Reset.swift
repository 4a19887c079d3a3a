import ArgumentParser
import GPUMonCore
import GPUMonDaemon
import HostFS
import Logging

/// `gpumon reset ADDR…`: an operator's reset of a selected GPU slot.
struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reset a selected GPU slot now, with verification, and bring it back on the target driver.",
        discussion: """
            Goes through the daemon when it runs (so the reset is serialized with everything else it does), and \
            runs it directly otherwise. Refuses devices the config does not select, devices held open by a \
            process (/dev/vfio/<group>) and quarantined devices (gpumon clear lifts a quarantine). Every \
            function of the slot is reset together. Exit 0 when the reset succeeded and was verified, 1 when \
            it did not, 2 on bad usage. See docs/vm-lifecycle.md.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Functions to reset (DDDD:BB:DD.F); the other functions of their slot come along.")
    var addresses: [String]

    @Option(name: .long, help: ArgumentHelp("Use only this method: flr, pm, bus, slot, remove-rescan, device_specific, acpi.",
        valueName: "method"))
    var method: String?

    @Flag(name: .long, help: "Print the plan (methods to try, methods skipped and why) and write nothing.")
    var dryRun = false

    func validate() throws {
        for address in addresses {
            do { _ = try PCIAddress(parsing: address) } catch { throw ValidationError(error.description) }
        }
        if let method, ResetMethod(rawValue: method) == nil {
            throw ValidationError("--method must be one of " + ResetMethod.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    func run() async throws {
        let config = try global.loadConfig()
        let request = ControlRequest(command: "reset", addresses: addresses, method: method, dryRun: dryRun)
        let response: ControlResponse
        do {
            response = try ControlClient.send(request, path: config.daemon.socket, timeout: .seconds(300))
        } catch {
            guard case .notRunning = error else { throw CLIError(message: "\(error)", status: .runtime) }
            let lifecycle = await Daemon.standalone(config: config, options: .init(
                configPath: global.resolvedConfigPath, sysfs: global.sysfs, proc: FileTree(root: "/proc"),
                dryRun: false, socketPath: nil, logLevel: .notice))
            response = await lifecycle.operatorReset(
                addresses.compactMap(PCIAddress.init), method: method.flatMap(ResetMethod.init(rawValue:)),
                dryRun: dryRun)
        }
        for line in response.lines ?? [] { print(line) }
        if !response.ok {
            if response.lines == nil, let error = response.error { printError("gpumon: \(error)") }
            throw ExitCode(ExitStatus.problem.rawValue)
        }
    }
}
