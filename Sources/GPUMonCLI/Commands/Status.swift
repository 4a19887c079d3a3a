import ArgumentParser
import GPUMonCore
import GPUMonDaemon
import HostFS

/// `gpumon status`: every selected device's binding and state.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every selected device's driver, IOMMU group and state.",
        discussion: """
            Reads sysfs directly. Exit status: 0 when every selected device is ok; 1 when one is not (or nothing \
            is selected); 2 on a usage or config error; 3 when sysfs cannot be read.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print JSON for machines instead of a table.")
    var json = false

    @Flag(name: .long, help: "Also list devices the config does not select.")
    var all = false

    @Flag(name: .long, help: "Read sysfs even when the daemon runs.")
    var noDaemon = false

    func run() async throws {
        let config = try global.loadConfig()
        var report: StatusReport
        var daemonNote: String?
        if !noDaemon, let answered = askDaemon(socket: config.daemon.socket, note: &daemonNote) {
            report = answered
            if !all { report.devices = report.devices.filter { $0.selected } }
        } else {
            let (topology, problems) = try global.scan()
            let selection = SelectionResolver.resolve(config, topology: topology)
            report = StatusReport.build(
                config: config, topology: topology, problems: problems, selection: selection,
                names: global.pciNames(), includeUnselected: all)
            // Quarantines outlive the daemon: show them from its state file.
            let budget = ResetBudgetStore(stateDirectory: config.daemon.stateDir).load(now: WallClock.now(),
                repair: false).budget
            for index in report.devices.indices {
                if let quarantine = budget.quarantined[report.devices[index].address.description] {
                    report.devices[index].state = .quarantined
                    report.devices[index].note = quarantine.reason + "; gpumon clear \(report.devices[index].address)"
                }
            }
        }
        if let daemonNote { report.problems.append(daemonNote) }
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print(StatusTable.render(report, daemonNote: daemonNote), terminator: "")
        }
        if !report.allSelectedOK { throw ExitCode(ExitStatus.problem.rawValue) }
    }
}

extension Status {
    /// Asks the daemon when its socket answers. Only when the daemon is running and answers badly is that worth a
    /// note; a daemon that is not running is the normal sysfs case.
    func askDaemon(socket: String, note: inout String?) -> StatusReport? {
        // Tests point --sysfs-root at a fake tree: the daemon's view is of the real one, so don't mix them.
        guard global.sysfs.root == "/sys" else { return nil }
        do {
            let response = try ControlClient.send(ControlRequest(command: "status"), path: socket)
            guard response.ok, let report = response.status else {
                note = "daemon answered with an error: \(response.error ?? "unknown"); showing sysfs"
                return nil
            }
            return report
        } catch {
            if case .notRunning = error { return nil }
            note = "\(error); showing sysfs"
            return nil
        }
    }
}
