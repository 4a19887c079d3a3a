import ArgumentParser
import FoundationEssentials
import GPUMonCore
import GPUMonHost
import HostFS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `gpumon setup`: computes the passthrough preparation from the config, shows it as diffs, and with `--apply`
/// writes it and runs the regeneration commands.
struct Setup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prepare this host for GPU passthrough from the config (a dry run unless --apply).",
        discussion: """
            Edits GRUB_CMDLINE_LINUX in /etc/default/grub, the modules loaded at boot, the initramfs module list \
            and /etc/modprobe.d/vfio.conf, then regenerates GRUB and the initramfs for the detected distribution \
            and boot mode. --dry-run (the default) prints unified diffs and the commands; --apply writes each \
            file atomically after saving FILE.gpumon-bak-YYYYmmddHHMMSS beside it. A second --apply changes \
            nothing. Exit status: 0 done (or nothing to do); 1 a part could not be planned; 2 bad usage, an \
            invalid config or an unsupported host; 3 a write or a command failed.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var host: HostOptions

    @Flag(name: .customLong("dry-run"), help: "Print the changes and commands without making them (the default).")
    var dryRun = false

    @Flag(name: .customLong("apply"), help: "Make the changes: back up and write the files, run the commands.")
    var apply = false

    func validate() throws {
        if dryRun && apply { throw ValidationError("--dry-run and --apply exclude each other") }
    }

    func run() async throws {
        let config = try host.loadConfig(global)
        let root = host.hostRoot(global)
        let snapshot: HostSnapshot
        do {
            snapshot = try HostInspector(root: root, runner: nil).snapshot(config: config)
        } catch {
            throw HostOptions.cliError(error)
        }
        let selection = snapshot.topology.map { SelectionResolver.resolve(config, topology: $0) }
        let requirements = PassthroughRequirements.build(
            config: config, facts: snapshot.facts, topology: snapshot.topology, selection: selection)
        let plan = SetupPlanner.plan(snapshot, requirements: requirements)

        var out = "host: \(snapshot.facts.summary)\n"
        if root.files.root != "/" { out += "root: \(root.files.root)\n" }
        let selected = requirements.selectedDevices.map { "\($0.address) (\($0.id))" }
        out += "selected: " + (selected.isEmpty ? "nothing on this host" : selected.joined(separator: ", ")) + "\n"
        for note in plan.notes { out += "note: \(note)\n" }
        for problem in plan.problems { out += "problem: \(problem)\n" }
        if plan.isEmpty {
            out += "nothing to change: the host is prepared\n"
        }
        for change in plan.changes {
            out += "\n# \(change.old == nil ? "create" : "change") /\(change.path): \(change.reason)\n"
            out += change.diff
        }
        if !plan.commands.isEmpty {
            out += "\ncommands:\n"
            for command in plan.commands { out += "  \(command)    # \(command.why)\n" }
        }
        if !apply {
            if !plan.isEmpty { out += "\ndry run: nothing was changed; run gpumon setup --apply to make these changes\n" }
            out += rebootLine(plan)
            print(out, terminator: "")
            if !plan.problems.isEmpty { throw ExitCode(ExitStatus.problem.rawValue) }
            return
        }

        let executor = SetupExecutor(
            files: root.files, runner: root.isLiveSystem ? ProcessCommandRunner() : nil, timestamp: Self.timestamp())
        let result = executor.apply(plan)
        if !plan.isEmpty { out += "\n" }
        for file in result.written {
            out += "wrote /\(file.path)" + (file.backup.map { " (backup: /\($0))" } ?? " (new file)") + "\n"
        }
        for ran in result.commands {
            if ran.output != nil {
                out += "ran: \(ran.command)\n"
            } else {
                out += "not run under --root (run it inside the image, e.g. chroot \(root.files.root)): "
                    + "\(ran.command)\n"
            }
        }
        if let failure = result.failure {
            print(out, terminator: "")
            throw CLIError(message: failure.description, status: .runtime)
        }
        out += rebootLine(plan)
        print(out, terminator: "")
        if !plan.problems.isEmpty { throw ExitCode(ExitStatus.problem.rawValue) }
    }

    private func rebootLine(_ plan: SetupPlan) -> String {
        plan.rebootReason.map { "reboot needed: \($0)\n" } ?? "no reboot needed\n"
    }

    /// `YYYYmmddHHMMSS` in local time, for backup names.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)" + two(parts.tm_mon + 1) + two(parts.tm_mday) + two(parts.tm_hour)
            + two(parts.tm_min) + two(parts.tm_sec)
    }
}
