public import Prometheus
public import GPUMonCore

/// gpumon's metrics, kept in a Prometheus registry and written in the node_exporter textfile format.
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// The per-device series last published, so a device that left the selection loses its series.
    private let published = PublishedDeviceSeries()

    public init() {
        gauge("up", help: "1 while the gpumon daemon runs.").set(to: 1)
    }

    public func deviceStates(_ counts: [DeviceState: Int]) {
        for state in [DeviceState.ok, .hostDriver, .unbound, .missing, .inUse] {
            gauge("devices", labels: [("state", state.rawValue)], help: "Selected devices by state.")
                .set(to: Double(counts[state] ?? 0))
        }
    }

    public func hostDriverGrab(_ address: PCIAddress, driver: String) {
        counter("host_driver_grabs", labels: [("address", address.description), ("driver", driver)],
            help: "Times a host driver bound a selected device.").increment()
    }

    public func rebind(_ address: PCIAddress, method: String) {
        counter("rebinds", labels: [("address", address.description), ("method", method)],
            help: "Devices moved back to the target driver.").increment()
    }

    public func failure(_ kind: String) {
        counter("failures", labels: [("kind", kind)], help: "Failed actions by kind.").increment()
    }

    public func alert(_ kind: AlertKind) {
        counter("alerts", labels: [("kind", kind.rawValue)], help: "Alerts raised by kind.").increment()
    }

    public func uevent(_ action: String) {
        counter("uevents", labels: [("action", action)], help: "PCI uevents received by action.").increment()
    }

    public func reconciled(at unixTime: Double) {
        gauge("last_reconcile_timestamp", unit: "seconds",
            help: "When the daemon last reconciled every selected device.").set(to: unixTime)
    }

    public func reset(_ address: PCIAddress, method: String, succeeded: Bool, seconds: Double) {
        counter("resets", labels: [("address", address.description), ("method", method),
            ("result", succeeded ? "ok" : "failed")], help: "Reset attempts by method and result.").increment()
        gauge("last_reset", unit: "seconds", labels: [("address", address.description)],
            help: "How long the last reset of a device took, until it was verified back on the target driver.")
            .set(to: seconds)
    }

    public func release(source: String) {
        counter("release_signals", labels: [("source", source)],
            help: "VM-stop signals received by source (log, hook, process).").increment()
    }

    /// `gpumon_device_state{address,state}` (1 for the current state, 0 for the others) and
    /// `gpumon_device_info{…} 1` for every selected function, from the daemon's status rows.
    public func devices(_ rows: [DeviceStatus], flapping: Set<String> = []) {
        let selected = rows.filter(\.selected)
        var series: [String: Gauge] = [:]
        for row in selected {
            let address = row.address.description
            for state in DeviceState.allCases where state != .unselected {
                let labels = [("address", address), ("state", state.rawValue)]
                let gauge = gauge("device_state", labels: labels,
                    help: "Each selected function's state: 1 for the current one, 0 for the others.")
                gauge.set(to: row.state == state ? 1 : 0)
                series["state|\(address)|\(state.rawValue)"] = gauge
            }
            let flap = gauge("device_flapping", labels: [("address", address)],
                help: "1 while a function is in flapping back-off (a host driver kept grabbing it).")
            flap.set(to: flapping.contains(address) ? 1 : 0)
            series["flap|\(address)"] = flap
            let info = gauge("device_info", labels: [
                ("address", address), ("vendor", row.vendor ?? ""), ("device", row.device ?? ""),
                ("name", row.name ?? ""), ("iommu_group", row.iommuGroup.map(String.init) ?? ""),
                ("slot", row.address.slot.description),
            ], help: "Identity of each selected function (always 1): IDs, name, IOMMU group, slot.")
            info.set(to: 1)
            series["info|\(address)|\(row.vendor ?? "")|\(row.device ?? "")|\(row.name ?? "")|\(row.iommuGroup ?? -1)"] = info
        }
        for gauge in published.replace(with: series) { registry.unregisterGauge(gauge) }
    }

    /// A VM start the hook gate refused (the gate increments it; `reason` is a short stable word).
    public func gateRefusal(_ address: PCIAddress?, reason: String) {
        counter("gate_refusals", labels: [("address", address?.description ?? ""), ("reason", reason)],
            help: "VM starts refused by the libvirt hook gate, by device and reason.").increment()
    }

    /// The outcome of one Placement sync: whether it reached Placement, how many providers differ from what gpumon
    /// wants, and each selected function's `reserved`.
    public func placementSync(completed: Bool, outOfSync: Int, providers: [(address: String, reserved: Int?, inSync: Bool)],
        at time: Double) {
        gauge("placement_up", help: "1 when the last Placement sync completed, 0 when it failed.")
            .set(to: completed ? 1 : 0)
        gauge("placement_out_of_sync_providers",
            help: "Selected functions whose Placement provider differs from what gpumon wants (or is missing).")
            .set(to: Double(outOfSync))
        if completed {
            gauge("placement_last_sync_timestamp", unit: "seconds", help: "When a Placement sync last completed.")
                .set(to: time)
            for (address, value, inSync) in providers {
                if let value {
                    gauge("placement_reserved", labels: [("address", address)],
                        help: "The reserved amount of each selected function's Placement provider, as last read.")
                        .set(to: Double(value))
                }
                gauge("placement_in_sync", labels: [("address", address)],
                    help: "1 when the function's Placement provider is as gpumon wants it, 0 when not (or missing).")
                    .set(to: inSync ? 1 : 0)
            }
        } else {
            counter("placement_sync_errors", labels: [], help: "Placement syncs that failed.").increment()
        }
    }

    /// Before the first sync: the series exist, so alert rules see them from the start.
    public func placementEnabled() {
        counter("placement_sync_errors", labels: [], help: "Placement syncs that failed.").increment(by: Int64(0))
        gauge("placement_out_of_sync_providers",
            help: "Selected functions whose Placement provider differs from what gpumon wants (or is missing).")
            .set(to: 0)
    }

    /// When the textfile was last written: node_exporter's file mtime says the same, this survives copies.
    public func heartbeat(at time: Double) {
        gauge("textfile_heartbeat_timestamp", unit: "seconds",
            help: "When the daemon last rewrote its metrics textfile (at least every minute while it runs).")
            .set(to: time)
    }

    /// The textfile contents.
    public func render() -> String { registry.emitToString() }

    // MARK: - Names

    /// `gpumon_<name>_total`.
    private func counter(_ name: String, labels: [(String, String)], help: String) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "gpumon", metricName: name, unitName: "total", helpText: help),
            labels: labels)
    }

    /// `gpumon_<name>[_<unit>]`.
    private func gauge(_ name: String, unit: String = "", labels: [(String, String)] = [], help: String) -> Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "gpumon", metricName: name, unitName: unit, helpText: help),
            labels: labels)
    }
}

/// The per-device gauges of the last ``DaemonMetrics/devices(_:)`` call.
private final class PublishedDeviceSeries: @unchecked Sendable {
    private let lock = Mutex()
    private var current: [String: Gauge] = [:]

    /// Stores `next` and returns the gauges that are no longer in it.
    func replace(with next: [String: Gauge]) -> [Gauge] {
        lock.withLock {
            let gone = current.filter { next[$0.key] == nil }.map(\.value)
            current = next
            return gone
        }
    }
}
