import Foundation
import GPUMonCore
@testable import GPUMonDaemon
import GPUMonTestSupport
import Logging
import Testing

/// Collects releases and readiness from a running watcher.
final class ReleaseRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var releases: [ReleaseSignal] = []
    private var ready = false

    var all: [ReleaseSignal] { lock.withLock { releases } }
    // Starts (the VM-run identity's other half) are not what these tests count.
    func record(_ release: ReleaseSignal) { if release.kind == .stopped { lock.withLock { releases.append(release) } } }
    func markReady() { lock.withLock { ready = true } }
    var isReady: Bool { lock.withLock { ready } }
}

/// A temp log directory, a state directory and a watcher that can be started and stopped (a daemon restart).
final class LogLab: @unchecked Sendable {
    let root: String
    let logs: String
    let state: String
    let recorder = ReleaseRecorder()
    private var task: Task<Void, Never>?
    private var sentinels = 0

    init(logsSubpath: String = "qemu") throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("gpumon-logs-\(UUID().uuidString)").path
        logs = root + "/" + logsSubpath
        state = root + "/state"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit {
        task?.cancel()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Starts a watcher and waits until it has read what exists.
    func start() async throws {
        let readyBefore = ReleaseRecorder()
        let watcher = DomainLogWatcher(directories: [logs], stateDirectory: state, logger: Logger(label: "test"),
            onReady: { readyBefore.markReady() }, onRelease: { [recorder] in recorder.record($0) })
        task = Task { _ = try? await watcher.run() }
        try await wait("watcher ready") { readyBefore.isReady }
    }

    func stop() async {
        task?.cancel()
        await task?.value
        task = nil
    }

    func wait(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<1000 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        try #require(condition(), "timed out waiting for \(what)")
    }

    /// Waits for the release count to reach `count`.
    @discardableResult
    func releases(_ count: Int) async throws -> [ReleaseSignal] {
        try await wait("\(count) releases, have \(recorder.all.map { $0.domain ?? "?" })") { recorder.all.count >= count }
        return recorder.all
    }

    /// Writes a whole run for a fresh domain and waits for its release: everything written before it has been
    /// processed (one inotify queue, handled in order). Returns the releases other than sentinels.
    func settle() async throws -> [ReleaseSignal] {
        sentinels += 1
        let name = "sentinel-\(sentinels)"
        try write(name, LogLab.start(["0000:0f:00.0"]) + LogLab.stop)
        try await wait("\(name)") { recorder.all.contains { $0.domain == name } }
        return recorder.all.filter { !($0.domain ?? "").hasPrefix("sentinel-") }
    }

    func path(_ domain: String) -> String { logs + "/" + domain + ".log" }

    func write(_ domain: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try text.write(toFile: path(domain), atomically: false, encoding: .utf8)
    }

    func append(_ domain: String, _ text: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path(domain)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    /// The fixture's `starting up` block (with its QEMU lines) with `hosts` passed through.
    static func start(_ hosts: [String]) -> String {
        let fixture = (try? LibvirtFixtures.text("instance-0000001b.log")) ?? ""
        let run = LibvirtFixtures.log(fixture, adding: hosts.enumerated().map { LibvirtFixtures.jsonDevice($1, index: $0) })
        let lines = run.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.filter { !$0.contains("shutting down") && !$0.isEmpty }.joined(separator: "\n") + "\n"
    }

    static let stop = "2026-11-25 00:09:57.693+0000: shutting down, reason=destroyed\n"
    static let vfioError = "2026-11-25T00:09:55.000001Z qemu-system-x86_64: vfio_err_notifier_handler(0000:01:00.0) Unrecoverable error detected.\n"
}

@Suite(.serialized) struct DomainLogWatcherTests {
    let gpu = [PCIAddress(bus: 1, device: 0, function: 0), PCIAddress(bus: 1, device: 0, function: 1)]
    let gpuHosts = ["0000:01:00.0", "0000:01:00.1"]

    @Test func appendsInChunksWithPartialLines() async throws {
        let lab = try LogLab()
        try FileManager.default.createDirectory(atPath: lab.logs, withIntermediateDirectories: true)
        try await lab.start()
        let text = LogLab.start(gpuHosts) + LogLab.vfioError
        try lab.write("instance-0000001a", "")
        var index = text.startIndex
        while index < text.endIndex {
            let end = text.index(index, offsetBy: 97, limitedBy: text.endIndex) ?? text.endIndex
            try lab.append("instance-0000001a", String(text[index..<end]))
            index = end
        }
        try lab.append("instance-0000001a", "2026-11-25 00:09:57.693+0000: shutting do")
        #expect(try await lab.settle().isEmpty, "half a stop line is not a stop")
        try lab.append("instance-0000001a", "wn, reason=destroyed\n")
        let releases = try await lab.releases(2).filter { $0.domain == "instance-0000001a" }
        #expect(releases == [ReleaseSignal(source: .log, domain: "instance-0000001a", addresses: gpu,
            reason: "destroyed", errorLines: [String(LogLab.vfioError.dropLast())])])
        await lab.stop()
    }

    @Test func copytruncateStartsOverAtZero() async throws {
        let lab = try LogLab()
        try FileManager.default.createDirectory(atPath: lab.logs, withIntermediateDirectories: true)
        try await lab.start()
        try lab.write("vm", LogLab.start(gpuHosts) + LogLab.stop)
        try await lab.releases(1)
        // copytruncate: the content is copied elsewhere and the file truncated in place; libvirt writes on.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: lab.path("vm")))
        try handle.truncate(atOffset: 0)
        try handle.close()
        try lab.append("vm", LogLab.start(["0000:02:00.0"]) + LogLab.stop)
        let releases = try await lab.settle()
        #expect(releases.map(\.addresses) == [gpu, [PCIAddress(bus: 2, device: 0, function: 0)]])
        await lab.stop()
    }

    @Test func renameRotationFinishesTheOldFileAndFollowsTheNewOne() async throws {
        let lab = try LogLab()
        try FileManager.default.createDirectory(atPath: lab.logs, withIntermediateDirectories: true)
        try await lab.start()
        // Run 1 starts in x.log; x.log is rotated; it stops in the new x.log.
        try lab.write("vm", LogLab.start(gpuHosts))
        #expect(try await lab.settle().isEmpty)
        try FileManager.default.moveItem(atPath: lab.path("vm"), toPath: lab.path("vm") + ".0")
        try lab.write("vm", LogLab.stop)
        // Run 2 starts and stops in x.log, then the stop is followed at once by a rotation: the old inode is read
        // to its end.
        try lab.append("vm", LogLab.start(["0000:03:00.0"]) + LogLab.stop)
        try FileManager.default.moveItem(atPath: lab.path("vm") + ".0", toPath: lab.path("vm") + ".1")
        try FileManager.default.moveItem(atPath: lab.path("vm"), toPath: lab.path("vm") + ".0")
        try lab.write("vm", "")
        let releases = try await lab.settle()
        #expect(releases.map(\.addresses) == [gpu, [PCIAddress(bus: 3, device: 0, function: 0)]])
        await lab.stop()
    }

    @Test func deleteAndRecreate() async throws {
        let lab = try LogLab()
        try FileManager.default.createDirectory(atPath: lab.logs, withIntermediateDirectories: true)
        try await lab.start()
        try lab.write("vm", LogLab.start(gpuHosts) + LogLab.stop)
        try await lab.releases(1)
        try FileManager.default.removeItem(atPath: lab.path("vm"))
        try lab.write("vm", LogLab.start(["0000:04:00.0"]) + LogLab.stop)
        let releases = try await lab.settle()
        #expect(releases.map(\.addresses) == [gpu, [PCIAddress(bus: 4, device: 0, function: 0)]])
        await lab.stop()
    }

    @Test func aDirectoryCreatedLaterIsFollowed() async throws {
        let lab = try LogLab(logsSubpath: "var/log/libvirt/qemu")
        try await lab.start()
        try FileManager.default.createDirectory(atPath: lab.logs, withIntermediateDirectories: true)
        try lab.write("vm", LogLab.start(gpuHosts) + LogLab.stop)
        #expect(try await lab.settle().map(\.addresses) == [gpu])
        // And again after the directory is removed and made anew.
        try FileManager.default.removeItem(atPath: lab.root + "/var/log/libvirt")
        try lab.write("vm2", LogLab.start(["0000:05:00.0"]) + LogLab.stop)
        #expect(try await lab.settle().map(\.domain) == ["vm", "vm2"])
        await lab.stop()
    }

    @Test func restartsResumeMidFileAndReportStopsWrittenWhileDownOnce() async throws {
        let lab = try LogLab()
        // Before the first start: an old finished run (history: not reported) and a running VM.
        try lab.write("old", LogLab.start(gpuHosts) + LogLab.stop)
        try lab.write("running", LogLab.start(gpuHosts))
        try lab.write("rotated", LogLab.start(["0000:06:00.0"]))
        try await lab.start()
        #expect(lab.recorder.all.isEmpty, "a never-seen file's old stops are not reported")
        try lab.append("running", LogLab.vfioError)
        #expect(try await lab.settle().isEmpty)
        await lab.stop()
        let sentinelsBefore = lab.recorder.all.count

        // While down: `running` stops, `rotated` stops and is rotated, a new domain runs and stops.
        try lab.append("running", LogLab.stop)
        try lab.append("rotated", LogLab.stop)
        try FileManager.default.moveItem(atPath: lab.path("rotated"), toPath: lab.path("rotated") + ".0")
        try lab.write("rotated", LogLab.start(["0000:07:00.0"]))
        try await Task.sleep(for: .milliseconds(20))  // mtime after the last save, even on coarse clocks
        try lab.write("while-down", LogLab.start(["0000:08:00.0"]) + LogLab.stop)

        try await lab.start()
        let atStart = Array(lab.recorder.all.dropFirst(sentinelsBefore))
        #expect(Set(atStart.map { $0.domain ?? "" }) == ["running", "rotated", "while-down"])
        #expect(atStart.count == 3)
        let running = try #require(atStart.first { $0.domain == "running" })
        #expect(running.addresses == gpu && running.errorLines == [String(LogLab.vfioError.dropLast())])
        #expect(atStart.first { $0.domain == "rotated" }?.addresses == [PCIAddress(bus: 6, device: 0, function: 0)])

        // The new `rotated` run keeps going after the restart.
        try lab.append("rotated", LogLab.stop)
        let after = try await lab.settle()
        #expect(after.filter { $0.domain == "rotated" }.map(\.addresses).last == [PCIAddress(bus: 7, device: 0, function: 0)])
        await lab.stop()

        // A third start reports nothing again.
        let count = lab.recorder.all.count
        try await lab.start()
        #expect(lab.recorder.all.count == count, "nothing reported twice")
        #expect(FileManager.default.fileExists(atPath: lab.state + "/logpos.json"))
        await lab.stop()
    }
}
