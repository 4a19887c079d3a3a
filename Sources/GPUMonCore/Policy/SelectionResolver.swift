/// Resolves a config against the functions present. Pure: the same config and topology always give the same
/// selection, which is what makes `--dry-run` and tests honest.
public enum SelectionResolver {
    public static func resolve(_ config: Config, topology: PCITopology) -> Selection {
        var selection = Selection()

        func consider(_ device: PCIDevice, reason: Selection.Reason) -> Bool {
            if device.isBridge {
                selection.excluded[device.address] = .bridge
                return false
            }
            if !config.daemon.allowBootVGA {
                if device.isBootVGA {
                    selection.excluded[device.address] = .bootVGA
                    return false
                }
                if topology.siblings(of: device.address).contains(where: \.isBootVGA) {
                    selection.excluded[device.address] = .bootVGASlot
                    return false
                }
                // Fail closed: an unreadable sibling may be the boot VGA whose `boot_vga` could not be read.
                if !topology.unknownSiblings(of: device.address).isEmpty {
                    selection.excluded[device.address] = .unreadableSibling
                    return false
                }
            }
            if selection.selected[device.address] == nil { selection.selected[device.address] = reason }
            return true
        }

        var primaries: [(PCIAddress, Int)] = []
        for (rule, gpu) in config.gpus.enumerated() {
            for address in gpu.addresses {
                if topology.isUnknown(address) {
                    selection.excluded[address] = .unreadable
                    continue
                }
                guard let device = topology[address] else {
                    selection.missing[address] = selection.missing[address] ?? rule
                    continue
                }
                if consider(device, reason: .address(rule: rule)) { primaries.append((address, rule)) }
            }
            for id in gpu.ids {
                let matches = topology.devices.filter { $0.id == id }
                if matches.isEmpty { selection.unmatchedIDs.append((rule, id)) }
                for device in matches where consider(device, reason: .id(rule: rule)) {
                    primaries.append((device.address, rule))
                }
            }
        }
        // Companions second, so a function matched by a rule of its own keeps that reason.
        for (primary, rule) in primaries where config.gpus[rule].companions {
            for sibling in topology.siblings(of: primary) where selection.selected[sibling.address] == nil {
                _ = consider(sibling, reason: .companion(of: primary, rule: rule))
            }
        }
        return selection
    }
}
