import Foundation
import GPUMonCore
import GPUMonDaemon
import Logging
import Testing

/// The textfile the daemon writes, checked by Prometheus's own linter (`promtool check metrics`, from Debian's
/// `prometheus` package; scripts/install-test-deps installs it). No promtool is a failure, not a skip.
@Suite struct MetricsPromtoolTests {
    let gpu = PCIAddress(bus: 1, device: 0, function: 0)
    let audio = PCIAddress(bus: 1, device: 0, function: 1)

    /// Status rows as the daemon's `status` JSON carries them (DeviceStatus's memberwise init is internal).
    func rows() -> [DeviceStatus] {
        func row(_ address: String, _ device: String?, _ name: String?, group: Int?, selected: Bool, state: String) -> String {
            let fields: [String: Any] = [
                "address": address, "vendor": device == nil ? NSNull() : "10de", "device": device ?? NSNull(),
                "class": NSNull(), "name": name ?? NSNull(), "driver": "vfio-pci", "driver_override": NSNull(),
                "target_driver": "vfio-pci", "selected": selected, "companion_of": NSNull(), "excluded": NSNull(),
                "iommu_group": group ?? NSNull(), "group_viable": NSNull(), "group_blockers": NSNull(),
                "reset_methods": NSNull(), "has_flr": NSNull(), "power_state": NSNull(), "boot_vga": false,
                "config_readable": NSNull(), "state": state, "note": NSNull(),
            ]
            return String(decoding: (try? JSONSerialization.data(withJSONObject: fields)) ?? Data(), as: UTF8.self)
        }
        let json = "[" + [
            row("0000:01:00.0", "2204", "GA102 [GeForce RTX 3090]", group: 14, selected: true, state: "quarantined"),
            row("0000:01:00.1", "1aef", "GA102 \"High Definition\" Audio\\", group: 14, selected: true, state: "ok"),
            row("0000:00:02.0", nil, nil, group: nil, selected: false, state: "unselected"),
        ].joined(separator: ",") + "]"
        return (try? JSONDecoder().decode([DeviceStatus].self, from: Data(json.utf8))) ?? []
    }

    func populated() -> DaemonMetrics {
        let metrics = DaemonMetrics()
        metrics.devices(rows(), flapping: [gpu.description])
        metrics.hostDriverGrab(gpu, driver: "nouveau")
        metrics.deviceStates([.ok: 1, .hostDriver: 1])
        metrics.reconciled(at: 1_800_000_000)
        metrics.reset(gpu, method: "flr", succeeded: false, seconds: 0.2)
        metrics.gateRefusal(gpu, reason: "quarantined")
        metrics.placementEnabled()
        metrics.placementSync(completed: true, outOfSync: 1,
            providers: [(gpu.description, 1, true), (audio.description, nil, false)], at: 1_800_000_001)
        metrics.placementSync(completed: false, outOfSync: 1, providers: [], at: 1_800_000_002)
        metrics.heartbeat(at: 1_800_000_003)
        metrics.alert(.placementSyncFailed)
        return metrics
    }

    @Test func deviceSeriesAreTheDocumentedOnes() {
        #expect(rows().count == 3)
        let text = populated().render()
        for line in [
            #"gpumon_device_state{address="0000:01:00.0",state="quarantined"} 1.0"#,
            #"gpumon_device_state{address="0000:01:00.0",state="ok"} 0.0"#,
            #"gpumon_device_state{address="0000:01:00.1",state="ok"} 1.0"#,
            #"gpumon_device_flapping{address="0000:01:00.0"} 1.0"#,
            #"gpumon_gate_refusals_total{address="0000:01:00.0",reason="quarantined"} 1"#,
            "gpumon_placement_up 0.0",
            "gpumon_placement_sync_errors_total 1",
            #"gpumon_placement_in_sync{address="0000:01:00.1"} 0.0"#,
            #"gpumon_placement_reserved{address="0000:01:00.0"} 1.0"#,
            "gpumon_textfile_heartbeat_timestamp_seconds 1800000003.0",
        ] {
            #expect(text.contains(line), "missing \(line) in:\n\(text)")
        }
        #expect(text.contains(#"gpumon_device_info{address="0000:01:00.0",vendor="10de",device="2204""#))
        // Unselected functions have no per-device series.
        #expect(!text.contains("0000:00:02.0"))
    }

    @Test func aDeviceThatLeavesTheSelectionLosesItsSeries() {
        let metrics = populated()
        metrics.devices(Array(rows().dropFirst()))
        let text = metrics.render()
        #expect(!text.contains(#"gpumon_device_state{address="0000:01:00.0""#))
        #expect(text.contains(#"gpumon_device_state{address="0000:01:00.1",state="ok"} 1.0"#))
    }

    @Test func promtoolAcceptsTheTextfile() throws {
        let promtool = "/usr/bin/promtool"
        #expect(FileManager.default.isExecutableFile(atPath: promtool),
            "promtool missing: run scripts/install-test-deps (Debian's prometheus package)")
        let path = NSTemporaryDirectory() + "gpumon-\(UUID().uuidString).prom"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // The daemon's own writer, not a copy of render().
        MetricsTextfile(path: path, metrics: populated(), logger: Logger(label: "test")).writeNow()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let said = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let written = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(unreadable)"
        #expect(process.terminationStatus == 0, "promtool check metrics: \(said)\n\(written)")
    }
}
