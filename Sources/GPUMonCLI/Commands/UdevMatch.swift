import ArgumentParser
import GPUMonCore

/// `gpumon udev-match ADDRESS`: the decision the udev rule imports at `add`.
struct UdevMatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udev-match",
        abstract: "Print GPUMON_DRIVER=<target> when the config selects a PCI function (for the udev rule).",
        discussion: """
            Used by rules.d/60-gpumon.rules as IMPORT{program}: on `add`, a selected function gets \
            driver_override set before host-driver modules load. Prints nothing for other functions. Exit 0 \
            whatever happens (a udev program's failure would only be logged); problems go to stderr.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The function's address (udev's %k), e.g. 0000:01:00.0.")
    var address: String

    func run() async throws {
        guard let target = PCIAddress(address) else {
            printError("gpumon udev-match: \"\(address)\" is not a PCI address")
            return
        }
        let config: Config
        do {
            config = try global.loadConfig()
        } catch {
            printError("gpumon udev-match: \(error.message)")
            return
        }
        guard let scanned = try? global.scan() else { return }
        let selection = SelectionResolver.resolve(config, topology: scanned.topology)
        if selection.isSelected(target) {
            print("GPUMON_DRIVER=\(config.daemon.targetDriver)")
        }
    }
}
