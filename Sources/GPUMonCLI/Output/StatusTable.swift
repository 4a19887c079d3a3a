import GPUMonCore

/// The people-facing rendering of a ``StatusReport``.
enum StatusTable {
    static func render(_ report: StatusReport, daemonNote: String? = nil) -> String {
        let target = report.devices.first?.targetDriver ?? "vfio-pci"
        var source = report.source
        if let daemon = report.daemon {
            source += " (pid \(daemon.pid), up \(Int(daemon.uptimeSeconds))s, \(daemon.eventsSeen) events, "
            source += "uevents from \(daemon.ueventSource)" + (daemon.dryRun ? ", DRY RUN" : "") + ")"
        } else if daemonNote == nil {
            source += " (daemon not running)"
        }
        var text = "source: \(source)  config: \(report.config)  target driver: \(target)\n"
        if report.devices.isEmpty {
            text += "no device selected: check the [[gpu]] entries with 'gpumon check-config'\n"
        }
        var table = TextTable(header: ["ADDRESS", "ID", "CLASS", "DRIVER", "STATE", "GROUP", "RESET", "NAME"])
        for device in report.devices {
            var state = device.state.rawValue
            if let primary = device.companionOf { state += " (companion of \(primary))" }
            if let excluded = device.excluded { state += " (excluded: \(excluded))" }
            if let note = device.note { state += " (\(note))" }
            table.rows.append([
                device.address.description,
                device.vendor.flatMap { vendor in device.device.map { "\(vendor):\($0)" } } ?? "-",
                device.pciClass.map { classLabel($0) } ?? "-",
                device.driver ?? "-",
                state,
                device.iommuGroup.map(String.init) ?? "-",
                device.resetMethods.map { $0.isEmpty ? "none" : $0.joined(separator: ",") } ?? "-",
                (device.name ?? "") + (device.bootVGA ? " [boot VGA]" : ""),
            ])
        }
        if !report.devices.isEmpty { text += table.render() }
        var groups: [Int: (Bool, [String])] = [:]
        for device in report.devices where device.selected {
            if let group = device.iommuGroup, let viable = device.groupViable {
                groups[group] = (viable, (device.groupBlockers ?? []).map(\.description))
            }
        }
        for (group, (viable, blockers)) in groups.sorted(by: { $0.key < $1.key }) {
            text += viable
                ? "IOMMU group \(group): viable\n"
                : "IOMMU group \(group): NOT viable: unselected \(blockers.joined(separator: ", ")) on a host driver\n"
        }
        for problem in report.problems { text += "problem: \(problem)\n" }
        if let daemon = report.daemon {
            for alert in daemon.lastAlerts.suffix(5) {
                text += "alert: \(alert.kind) \(alert.address ?? "-"): \(alert.message)\n"
            }
        }
        return text
    }

    private static func classLabel(_ raw: String) -> String {
        guard raw.hasPrefix("0x"), let value = UInt32(raw.dropFirst(2), radix: 16) else { return raw }
        return PCIClass(rawValue: value).shortName
    }
}
