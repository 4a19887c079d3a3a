import ArgumentParser
import GPUMonCore

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

    func run() async throws {
        let config = try global.loadConfig()
        let (topology, problems) = try global.scan()
        let selection = SelectionResolver.resolve(config, topology: topology)
        let report = StatusReport.build(
            config: config, topology: topology, problems: problems, selection: selection,
            names: global.pciNames(), includeUnselected: all)
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print(StatusTable.render(report), terminator: "")
        }
        if !report.allSelectedOK { throw ExitCode(ExitStatus.problem.rawValue) }
    }
}
