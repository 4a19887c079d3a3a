import ArgumentParser
import GPUMonCore
import GPUMonDaemon
import GPUMonPlacement
import HostFS
import Logging

/// `gpumon placement status|sync`: what gpumon wants in OpenStack Placement versus what Placement has.
struct PlacementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement",
        abstract: "Compare or sync this host's GPU providers in OpenStack Placement ([placement] in the config).",
        discussion: """
            Exit status: 0 every selected function's provider is as gpumon wants it; 1 one is not (or has no \
            provider); 2 usage or config error, or [placement] url unset; 3 Placement unreachable or erroring.
            """,
        subcommands: [PlacementStatus.self, PlacementSync.self]
    )
}

struct PlacementStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show, per selected function, what gpumon wants in Placement and what Placement has. Writes nothing.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Print JSON for machines instead of a table.") var json = false

    func run() async throws {
        try await PlacementRun(global: global, json: json, apply: false).run()
    }
}

struct PlacementSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Apply the desired reserved values to Placement once (the daemon does this by itself).")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Print JSON for machines instead of a table.") var json = false
    @Flag(name: .long, help: "Show what would be written; write nothing.") var dryRun = false

    func run() async throws {
        try await PlacementRun(global: global, json: json, apply: !dryRun).run()
    }
}

/// The shared body of both subcommands.
struct PlacementRun {
    let global: GlobalOptions
    let json: Bool
    let apply: Bool

    func run() async throws {
        let config = try global.loadConfig()
        guard config.placement.enabled else {
            throw CLIError(message: "\(config.source): [placement] url is not set: the Placement integration is off",
                status: .usage)
        }
        guard let hostname = HypervisorHostname.resolve(configured: config.placement.hypervisorHostname) else {
            throw CLIError(message: "cannot tell this host's name; set [placement] hypervisor_hostname", status: .usage)
        }
        let devices = try currentDevices(config: config)
        let transport = AsyncHTTPTransport()
        let client = PlacementClient(placement: config.placement, transport: transport,
            authenticator: Authenticator(placement: config.placement, transport: transport))
        var logger = Logger(label: "gpumon") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = .warning
        let sync = GPUMonPlacement.PlacementSync(client: client, hostname: hostname,
            stateDirectory: config.daemon.stateDir, dryRun: false, logger: logger)
        let report = await sync.sync(devices: devices, apply: apply)
        await transport.shutdown()
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print(Self.table(report), terminator: "")
        }
        if let error = report.error {
            if !json { printError("gpumon: placement: \(error)") }
            throw ExitCode(ExitStatus.runtime.rawValue)
        }
        if !report.inSync { throw ExitCode(ExitStatus.problem.rawValue) }
    }

    /// The device states: the daemon's when it answers (it knows stuck/resetting), else sysfs plus the persisted
    /// quarantines.
    func currentDevices(config: Config) throws -> [PlacementDeviceInput] {
        if global.sysfs.root == "/sys", let response = try? ControlClient.send(ControlRequest(command: "status"),
            path: config.daemon.socket), response.ok, let report = response.status
        {
            return report.devices.filter(\.selected).map(PlacementDeviceInput.init)
        }
        let (topology, problems) = try global.scan()
        let selection = SelectionResolver.resolve(config, topology: topology)
        var report = StatusReport.build(config: config, topology: topology, problems: problems, selection: selection,
            names: global.pciNames(), includeUnselected: false)
        // Read-only, as `gpumon status` does: a damaged file is reported by the daemon, not repaired from here.
        let budget = ResetBudgetStore(stateDirectory: config.daemon.stateDir).load(now: WallClock.now(), repair: false).budget
        for index in report.devices.indices where budget.quarantined[report.devices[index].address.description] != nil {
            report.devices[index].state = .quarantined
        }
        return report.devices.filter(\.selected).map(PlacementDeviceInput.init)
    }

    static func table(_ report: PlacementSyncReport) -> String {
        var table = TextTable(header: ["ADDRESS", "STATE", "WANT", "PLACEMENT", "PROVIDER", "WHY"])
        for item in report.items {
            let have = item.provider.map { "reserved \($0.reserved)/\($0.total)" + ($0.used > 0 ? " used \($0.used)" : "")
                + ($0.oneTimeUse ? " otu" : "") } ?? "no provider"
            let want = item.write.map { "reserved \($0)" + (report.written.contains(item.providerName) ? " (written)" : "") }
                ?? item.want.rawValue
            table.rows.append([item.address.description, item.state.rawValue, want, have, item.providerName, item.reason])
        }
        var text = "host \(report.hostname)" + (report.computeNode.map { " (compute node provider \($0))" } ?? "") + "\n"
        text += table.render()
        for warning in report.warnings { text += "warning: \(warning)\n" }
        if !report.written.isEmpty { text += "written: \(report.written.joined(separator: ", "))\n" }
        return text
    }
}
