import ArgumentParser
import GPUMonCore
import GPUMonHost

/// `gpumon doctor`: checks the host preparation the guide describes, one line per check.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check this host's GPU passthrough preparation: one line per check, with fixes.",
        discussion: """
            Checks the CPU, the IOMMU, the kernel command line, the vfio modules and IDs, the host GPU drivers, \
            the initramfs, every selected device's IOMMU group, driver and reset capability, libvirt and the \
            gpumon service. Each failure or warning comes with the fix for the detected distribution and boot \
            mode. Exit status: 0 every check passed (or was skipped); 1 warnings; 2 a check failed, bad usage, \
            an invalid config or an unsupported host; 3 a runtime error.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var host: HostOptions

    @Flag(name: .long, help: "Print JSON for machines instead of one line per check.")
    var json = false

    func run() async throws {
        let config = try host.loadConfig(global)
        let root = host.hostRoot(global)
        let inspector = HostInspector(root: root, runner: root.isLiveSystem ? ProcessCommandRunner() : nil)
        let snapshot: HostSnapshot
        do {
            snapshot = try inspector.snapshot(config: config)
        } catch {
            throw HostOptions.cliError(error)
        }
        let report = DoctorReport(
            facts: snapshot.facts, config: config.source, checks: HostDoctor(snapshot: snapshot, config: config).run())
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print(Self.render(report), terminator: "")
        }
        switch report.worst {
        case .fail: throw ExitCode(ExitStatus.usage.rawValue)
        case .warn: throw ExitCode(ExitStatus.problem.rawValue)
        case .pass, .skip: return
        }
    }

    /// `STATUS  CHECK  MESSAGE`, then indented `fix:` lines, then the counts.
    static func render(_ report: DoctorReport) -> String {
        var out = "host: \(report.summary)\nconfig: \(report.config)\n"
        let names = report.checks.map { check in check.subject.map { "\(check.id) \($0)" } ?? check.id }
        let width = names.map(\.count).max() ?? 0
        for (check, name) in zip(report.checks, names) {
            out += check.status.rawValue + "  " + name + String(repeating: " ", count: width - name.count + 2)
            out += check.message + "\n"
            for fix in check.fix { out += "      fix: \(fix)\n" }
        }
        out += "\(report.checks.count) checks: \(report.count(.pass)) pass, \(report.count(.warn)) warn, "
        out += "\(report.count(.fail)) fail, \(report.count(.skip)) skipped\n"
        return out
    }
}
