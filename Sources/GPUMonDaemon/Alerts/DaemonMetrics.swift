public import Prometheus
public import GPUMonCore

/// gpumon's metrics, kept in a Prometheus registry and written in the node_exporter textfile format.
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    public init() {
        _ = registry.makeGauge(name: "gpumon_up", help: "1 while the gpumon daemon runs.").set(to: 1)
    }

    public func deviceStates(_ counts: [DeviceState: Int]) {
        for state in [DeviceState.ok, .hostDriver, .unbound, .missing, .inUse] {
            registry.makeGauge(name: "gpumon_devices", labels: [("state", state.rawValue)],
                help: "Selected devices by state.").set(to: Double(counts[state] ?? 0))
        }
    }

    public func hostDriverGrab(_ address: PCIAddress, driver: String) {
        registry.makeCounter(name: "gpumon_host_driver_grabs_total",
            labels: [("address", address.description), ("driver", driver)],
            help: "Times a host driver bound a selected device.").increment()
    }

    public func rebind(_ address: PCIAddress, method: String) {
        registry.makeCounter(name: "gpumon_rebinds_total", labels: [("address", address.description), ("method", method)],
            help: "Devices moved back to the target driver.").increment()
    }

    public func failure(_ kind: String) {
        registry.makeCounter(name: "gpumon_failures_total", labels: [("kind", kind)],
            help: "Failed actions by kind.").increment()
    }

    public func alert(_ kind: AlertKind) {
        registry.makeCounter(name: "gpumon_alerts_total", labels: [("kind", kind.rawValue)],
            help: "Alerts raised by kind.").increment()
    }

    public func uevent(_ action: String) {
        registry.makeCounter(name: "gpumon_uevents_total", labels: [("action", action)],
            help: "PCI uevents received by action.").increment()
    }

    public func reconciled(at unixTime: Double) {
        registry.makeGauge(name: "gpumon_last_reconcile_timestamp_seconds",
            help: "When the daemon last reconciled every selected device.").set(to: unixTime)
    }

    public func reset(_ address: PCIAddress, method: String, succeeded: Bool, seconds: Double) {
        registry.makeCounter(name: "gpumon_resets_total",
            labels: [("address", address.description), ("method", method), ("result", succeeded ? "ok" : "failed")],
            help: "Reset attempts by method and result.").increment()
        registry.makeGauge(name: "gpumon_last_reset_seconds", labels: [("address", address.description)],
            help: "How long the last reset of a device took, until it was verified back on the target driver.")
            .set(to: seconds)
    }

    public func release(source: String) {
        registry.makeCounter(name: "gpumon_release_signals_total", labels: [("source", source)],
            help: "VM-stop signals received by source (log, hook, process).").increment()
    }

    /// The textfile contents.
    public func render() -> String { registry.emitToString() }
}
