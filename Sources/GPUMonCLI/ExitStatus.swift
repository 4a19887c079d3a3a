/// gpumon's documented exit codes (`docs/cli.md`).
public enum ExitStatus: Int32, Sendable {
    /// Success: every selected device is ok, the config is valid.
    case ok = 0
    /// The command ran and found a problem (a selected device not ok, a doctor warning).
    case problem = 1
    /// Bad command-line usage or an invalid config.
    case usage = 2
    /// A runtime failure: sysfs unreadable, an I/O error.
    case runtime = 3
}
