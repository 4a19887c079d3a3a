import Foundation
import GPUMonTestSupport
import HostFS
import Testing

/// The real binary as a daemon: dry run against a fake sysfs, talked to over its control socket.
@Suite(.serialized) struct DaemonCommandTests {
    struct Running {
        let process: Process
        let socket: String
        let config: String
        let stderr: Pipe
    }

    func start(_ sys: FakeSysfs, config text: String, environment: [String: String] = [:]) throws -> Running {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpumon-daemon-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("gpumon.toml").path
        let socket = dir.appendingPathComponent("run/gpumon.sock").path
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let proc = dir.appendingPathComponent("proc")
        try FileManager.default.createDirectory(at: proc, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BuiltBinary.path)
        process.arguments = ["daemon", "--dry-run", "--config", config, "--sysfs-root", sys.tree.root,
            "--proc-root", proc.path, "--socket", socket, "--state-dir", dir.appendingPathComponent("state").path]
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { _, new in new }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(50_000) }
        return Running(process: process, socket: socket, config: config, stderr: err)
    }

    func request(_ socket: String, _ line: String) throws -> [String: Any] {
        let fd = TestSocket.connected(socket)
        try #require(fd >= 0, "connect \(socket)")
        defer { close(fd) }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var reply = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            reply.append(contentsOf: buffer[0..<n])
        }
        return try #require(try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any])
    }

    @Test func answersStatusRejectsGarbageSurvivesABadReloadAndStopsCleanly() throws {
        let sys = try HostFixtures.rtxHost()
        let daemon = try start(sys, config: "[[gpu]]\nids = [\"10de:2204\"]\n")
        defer { if daemon.process.isRunning { daemon.process.terminate() } }

        let status = try request(daemon.socket, #"{"command":"status"}"#)
        #expect(status["ok"] as? Bool == true)
        let report = try #require(status["status"] as? [String: Any])
        #expect(report["source"] as? String == "daemon")
        let devices = try #require(report["devices"] as? [[String: Any]])
        let selected = devices.filter { $0["selected"] as? Bool == true }
        #expect(selected.map { $0["address"] as? String } == ["0000:01:00.0", "0000:01:00.1"])
        #expect(selected.allSatisfy { $0["state"] as? String == "host-driver" }, "dry run changes nothing")
        let view = try #require(report["daemon"] as? [String: Any])
        #expect(view["dry_run"] as? Bool == true)

        let garbage = try request(daemon.socket, "this is not json")
        #expect(garbage["ok"] as? Bool == false)
        #expect((garbage["error"] as? String)?.hasPrefix("malformed request") == true)
        let unknown = try request(daemon.socket, #"{"command":"reboot"}"#)
        #expect(unknown["error"] as? String == "unknown command \"reboot\": expected status, ping, released, started, gate, reset or clear")

        // SIGHUP with a broken config: rejected with an alert, still running with the old one.
        try "[[gpu]]\nids = [\"10de-2204\"]\n".write(toFile: daemon.config, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        usleep(500_000)
        #expect(daemon.process.isRunning)
        let after = try request(daemon.socket, #"{"command":"status"}"#)
        let afterReport = try #require(after["status"] as? [String: Any])
        let alerts = try #require((afterReport["daemon"] as? [String: Any])?["last_alerts"] as? [[String: Any]])
        #expect(alerts.last?["kind"] as? String == "config-rejected")
        let afterDevices = try #require(afterReport["devices"] as? [[String: Any]])
        #expect(afterDevices.filter { $0["selected"] as? Bool == true }.count == 2, "the old config stays")

        kill(daemon.process.processIdentifier, SIGTERM)
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.socket), "the socket is removed on stop")
        let log = String(decoding: daemon.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("dry run: would write \"vfio-pci\" > \(sys.tree.root)/bus/pci/devices/0000:01:00.0/driver_override"))
        #expect(log.contains("alert: SIGHUP: new config rejected"))
    }

    /// systemd's side of sd_notify: READY=1 after the first reconcile, STATUS=, and watchdog pings.
    @Test func speaksSdNotifyWithWatchdog() throws {
        let dir = "/tmp/gpumon-notify-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/notify"
        let fd = TestSocket.bound(path, type: SOCK_DGRAM)
        try #require(fd >= 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let sys = try HostFixtures.rtxHost()
        let daemon = try start(sys, config: "[[gpu]]\nids = [\"10de:2204\"]\n",
            environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"])
        defer {
            daemon.process.terminate()
            daemon.process.waitUntilExit()
        }
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !messages.contains(where: { $0.contains("WATCHDOG=1") }) && messages.count < 20 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
        let ready = try #require(messages.first { $0.contains("READY=1") }, "\(messages)")
        #expect(ready.contains("STATUS=watching PCI uevents"))
        #expect(messages.contains { $0.hasPrefix("STATUS=") && $0.contains("selected devices on vfio-pci") })
        #expect(messages.contains("WATCHDOG=1"), "\(messages)")
    }

    @Test func refusesToStartWhenAnotherDaemonAnswers() throws {
        let sys = try HostFixtures.rtxHost()
        let first = try start(sys, config: "[[gpu]]\nids = [\"10de:2204\"]\n")
        defer { first.process.terminate(); first.process.waitUntilExit() }
        let second = try BuiltBinary.run(["daemon", "--dry-run", "--config", first.config, "--sysfs-root",
            sys.tree.root, "--socket", first.socket, "--state-dir", "/tmp/gpumon-second-state"])
        #expect(second.status == 3)
        #expect(second.stderr.contains("another gpumon daemon answers"))
        #expect(second.stderr.hasSuffix("\n") && second.stderr.split(separator: "\n").count == 1)
    }
}
