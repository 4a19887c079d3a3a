public import Prometheus
public import GPUMonCore

/// gpumon's metrics, kept in a Prometheus registry and written in the node_exporter textfile format.
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

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
