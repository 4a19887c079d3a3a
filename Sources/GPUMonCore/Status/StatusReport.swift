/// What `gpumon status` shows: every selected function (and with `all`, every other one), built from a sysfs
/// snapshot, a config and a selection.
public struct StatusReport: Sendable, Codable {
    /// Where the data came from: `sysfs` (read directly) or `daemon` (asked over the control socket).
    public var source: String
    public var config: String
    public var devices: [DeviceStatus]
    /// Device directories that could not be read; each is also a reason for a non-zero exit.
    public var problems: [String]
    /// The daemon's own view, when the daemon produced the report.
    public var daemon: DaemonView?

    /// Whether every selected device is `ok` and nothing was unreadable.
    public var allSelectedOK: Bool {
        problems.isEmpty && devices.filter(\.selected).allSatisfy { $0.state == .ok }
            && devices.contains(where: \.selected)
    }

    public static func build(
        config: Config, topology: PCITopology, problems: [SysfsProblem], selection: Selection,
        names: PCIIDDatabase, includeUnselected: Bool
    ) -> StatusReport {
        let target = config.daemon.targetDriver
        var viability: [Int: GroupViability] = [:]
        var rows: [DeviceStatus] = []
        for device in topology.devices {
            let selected = selection.isSelected(device.address)
            guard selected || includeUnselected else { continue }
            var groupViable: Bool?
            var blockers: [PCIAddress]?
            if selected, let group = device.iommuGroup {
                let result = viability[group] ?? GroupViability.evaluate(
                    group: group, topology: topology, selection: selection, targetDriver: target)
                viability[group] = result
                groupViable = result.isViable
                blockers = result.blockers
            }
            rows.append(
                DeviceStatus(
                    address: device.address,
                    vendor: device.id.vendorHex,
                    device: device.id.deviceHex,
                    pciClass: device.pciClass.description,
                    name: names.name(for: device.id),
                    driver: device.driver,
                    driverOverride: device.driverOverride,
                    targetDriver: target,
                    selected: selected,
                    companionOf: selection.companionOf(device.address),
                    excluded: selection.excluded[device.address]?.rawValue,
                    iommuGroup: device.iommuGroup,
                    groupViable: groupViable,
                    groupBlockers: blockers,
                    resetMethods: device.resetMethods,
                    hasFLR: device.resetMethods == nil ? nil : device.hasFLR,
                    powerState: device.powerState,
                    bootVGA: device.isBootVGA,
                    configReadable: device.configSpaceReadable,
                    state: selected ? DeviceState.observed(driver: device.driver, targetDriver: target) : .unselected
                ))
        }
        for (address, _) in selection.missing.sorted(by: { $0.key < $1.key }) {
            rows.append(
                DeviceStatus(
                    address: address, targetDriver: target, selected: true, bootVGA: false, state: .missing))
        }
        rows.sort { $0.address < $1.address }
        return StatusReport(
            source: "sysfs", config: config.source, devices: rows, problems: problems.map(\.description), daemon: nil)
    }
}
