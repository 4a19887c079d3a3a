import ArgumentParser
import GPUMonCore
import GPUMonDaemon

/// `gpumon clear ADDR…`: lifts a quarantine.
struct Clear: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lift a device's quarantine and forget its reset history.",
        discussion: """
            A device whose reset budget ran out ([reset] max_resets within window) is quarantined: gpumon leaves \
            it alone until this command. Goes through the daemon when it runs, and edits the state file \
            ([daemon] state_dir/resets.json) otherwise.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Functions to clear (DDDD:BB:DD.F).")
    var addresses: [String]

    func validate() throws {
        for address in addresses {
            do { _ = try PCIAddress(parsing: address) } catch { throw ValidationError(error.description) }
        }
    }

    func run() async throws {
        let config = try global.loadConfig()
        let parsed = addresses.compactMap(PCIAddress.init)
        do {
            let response = try ControlClient.send(ControlRequest(command: "clear", addresses: addresses),
                path: config.daemon.socket)
            for line in response.lines ?? [] { print(line) }
            if !response.ok { throw CLIError(message: response.error ?? "clear failed", status: .runtime) }
        } catch let error as ControlClient.Failure {
            guard case .notRunning = error else { throw CLIError(message: "\(error)", status: .runtime) }
            let store = ResetBudgetStore(stateDirectory: config.daemon.stateDir)
            let loaded = store.load(now: WallClock.now())
            var budget = loaded.budget
            if let problem = loaded.problem { printError("gpumon: \(problem)") }
            for address in parsed {
                print(budget.clear(address) ? "\(address): quarantine and reset history cleared"
                    : "\(address): nothing to clear")
            }
            do {
                try store.save(budget)
            } catch {
                throw CLIError(message: "cannot save \(config.daemon.stateDir)/\(ResetBudgetStore.fileName): \(error)",
                    status: .runtime)
            }
        }
    }
}
