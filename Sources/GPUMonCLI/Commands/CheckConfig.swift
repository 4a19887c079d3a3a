import ArgumentParser
import GPUMonCore

/// `gpumon check-config`: validates the config and shows what it selects on this host.
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the config and print the devices it selects on this host.",
        discussion: """
            An invalid config prints one line naming file, line and key, and exits 2. A valid one prints each \
            [[gpu]] rule with the functions it selects, the functions it leaves out and why, and warnings \
            (ids that match nothing, addresses not present, IOMMU groups that are not viable); exit 0.
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let config = try global.loadConfig()
        var out = "config \(config.source): valid\n"
        out += "target driver: \(config.daemon.targetDriver); boot VGA: "
        out += config.daemon.allowBootVGA ? "may be selected (allow_boot_vga = true)\n" : "never selected\n"
        out += "reset budget: \(config.reset.maxResets) per \(ConfigDuration.format(config.reset.window)), "
        out += "at least \(ConfigDuration.format(config.reset.minInterval)) apart\n"

        let scanned: (topology: PCITopology, problems: [SysfsProblem])
        do {
            scanned = try global.scan()
        } catch {
            out += "warning: cannot resolve the selection on this host: \(error.message)\n"
            print(out, terminator: "")
            return
        }
        let topology = scanned.topology
        let selection = SelectionResolver.resolve(config, topology: topology)
        for (index, gpu) in config.gpus.enumerated() {
            var rule = "[[gpu]] #\(index) (line \(gpu.line)):"
            if !gpu.ids.isEmpty { rule += " ids " + gpu.ids.map(\.description).joined(separator: ", ") + ";" }
            if !gpu.addresses.isEmpty {
                rule += " addresses " + gpu.addresses.map(\.description).joined(separator: ", ") + ";"
            }
            rule += gpu.companions ? " with companions;" : " without companions;"
            rule += " reset after stop: \(gpu.resetAfterStop.rawValue);"
            rule += " methods: " + gpu.resetMethods.map(\.rawValue).joined(separator: ", ")
            out += rule + "\n"
            var table = TextTable(header: ["", "ADDRESS", "ID", "DRIVER", "SELECTION"])
            for address in selection.selectedAddresses where selection.selected[address]?.rule == index {
                guard let device = topology[address] else { continue }
                let why: String
                switch selection.selected[address] {
                case .companion(let primary, _)?: why = "selected (companion of \(primary))"
                case .address?: why = "selected (address)"
                default: why = "selected (id)"
                }
                table.rows.append(["", address.description, device.id.description, device.driver ?? "-", why])
            }
            for device in topology.devices
            where selection.excluded[device.address] != nil && matches(gpu, device) {
                let reason: String
                switch selection.excluded[device.address] {
                case .bootVGA?: reason = "excluded: boot VGA, the host console (allow_boot_vga = false)"
                case .bootVGASlot?: reason = "excluded: a function of the boot VGA's card (allow_boot_vga = false)"
                case .unreadableSibling?: reason = "excluded: another function of its card cannot be read (might be the boot VGA)"
                default: reason = "excluded: bridges are never selected"
                }
                table.rows.append(["", device.address.description, device.id.description, device.driver ?? "-",
                    reason])
            }
            out += table.rows.isEmpty ? "  (selects nothing on this host)\n" : table.render()
        }
        for (rule, id) in selection.unmatchedIDs {
            out += "warning: [[gpu]] #\(rule) ids \(id) matches no device on this host\n"
        }
        for (address, rule) in selection.missing.sorted(by: { $0.key < $1.key }) {
            out += "warning: [[gpu]] #\(rule) address \(address) is not present on this host\n"
        }
        var seen: Set<Int> = []
        for address in selection.selectedAddresses {
            guard let group = topology[address]?.iommuGroup, seen.insert(group).inserted else { continue }
            let viability = GroupViability.evaluate(
                group: group, topology: topology, selection: selection, targetDriver: config.daemon.targetDriver)
            if !viability.isViable {
                out += "warning: IOMMU group \(group) is not viable: "
                out += viability.blockers.map(\.description).joined(separator: ", ")
                out += " share it, are not selected and are bound to a host driver\n"
            }
        }
        if selection.selected.isEmpty { out += "warning: the config selects no device on this host\n" }
        for problem in scanned.problems { out += "warning: unreadable device \(problem)\n" }
        print(out, terminator: "")
    }

    private func matches(_ gpu: Config.GPU, _ device: PCIDevice) -> Bool {
        gpu.ids.contains(device.id) || gpu.addresses.contains(device.address)
    }
}
