public import ArgumentParser

/// The `gpumon` root command.
public struct GPUMon: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gpumon",
        abstract: "Keeps passthrough GPUs on vfio-pci and resets GPUs left stuck after a VM stops.",
        discussion: """
            Exit codes: 0 success; 1 the command ran but found a problem (a selected device not ok); \
            2 bad usage or an invalid config; 3 a runtime error (sysfs unreadable, I/O error).
            """,
        version: GPUMonVersion.current,
        subcommands: [
            Status.self, CheckConfig.self, DaemonCommand.self, Reset.self, Clear.self, Hook.self, Doctor.self,
            Setup.self, UdevMatch.self, PlacementCommand.self,
        ]
    )

    public init() {}
}
