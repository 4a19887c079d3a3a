import GPUMonCore
@testable import GPUMonHost
import GPUMonTestSupport
import HostFS
import Synchronization

/// A command runner that records what it was asked to run and answers from a script.
final class FakeRunner: CommandRunner {
    let installed: Set<String>
    let outputs: [String: CommandOutput]
    private let log = Mutex<[[String]]>([])

    init(installed: Set<String> = [], outputs: [String: CommandOutput] = [:]) {
        self.installed = installed
        self.outputs = outputs
    }

    var ran: [[String]] { log.withLock { $0 } }

    func locate(_ program: String) -> String? { installed.contains(program) ? "/usr/sbin/\(program)" : nil }

    func run(_ argv: [String]) throws(HostError) -> CommandOutput {
        log.withLock { $0.append(argv) }
        return outputs[argv.first ?? ""] ?? CommandOutput(status: 0)
    }
}

/// The RTX host's config: one [[gpu]] by ID, companions on.
let rtxConfigText = """
    [[gpu]]
    ids = ["10de:2204"]

    """

func rtxConfig() throws -> Config { try ConfigLoader.parse(rtxConfigText, file: "/etc/gpumon/gpumon.toml") }

/// Everything one setup run needs, computed the way the CLI does.
struct Planned {
    var snapshot: HostSnapshot
    let requirements: PassthroughRequirements
    let plan: SetupPlan
}

func planSetup(_ root: FakeHostRoot, config: Config? = nil, runner: (any CommandRunner)? = nil) throws -> Planned {
    let config = try config ?? rtxConfig()
    let hostRoot = HostRoot(files: root.tree, sysfs: root.tree.subtree("sys"))
    let snapshot = try HostInspector(root: hostRoot, runner: runner).snapshot(config: config)
    let selection = snapshot.topology.map { SelectionResolver.resolve(config, topology: $0) }
    let requirements = PassthroughRequirements.build(
        config: config, facts: snapshot.facts, topology: snapshot.topology, selection: selection)
    return Planned(snapshot: snapshot, requirements: requirements, plan: SetupPlanner.plan(snapshot, requirements: requirements))
}

/// Applies a plan with a recording runner and a fixed backup stamp.
func applySetup(_ root: FakeHostRoot, _ plan: SetupPlan, runner: FakeRunner = FakeRunner()) -> SetupResult {
    SetupExecutor(files: root.tree, runner: runner, timestamp: "20260102030405").apply(plan)
}
