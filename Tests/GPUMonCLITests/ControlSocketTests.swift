import Foundation
import GPUMonTestSupport
import HostFS
import GPUMonCore
import Testing

/// The control socket against hostile or clumsy local clients: early closes, resets, trickled requests, a descriptor
/// limit reached. The daemon must keep answering every other client.
extension DaemonCommandTests {
    static let config = "[[gpu]]\nids = [\"10de:2204\"]\n"

    /// Defect 0: a client that closes before, during or after the reply, or resets the connection, made the daemon's
    /// write raise SIGPIPE (exit 141).
    @Test func survivesClientsThatCloseOrResetEarly() throws {
        let daemon = try start(try HostFixtures.rtxHost(), config: Self.config)
        defer { if daemon.process.isRunning { daemon.process.terminate(); daemon.process.waitUntilExit() } }
        let status = Array(#"{"command":"status"}"#.utf8) + [10]
        func send(_ fd: Int32, _ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        for round in 0..<6 {
            // Closed before the daemon replies.
            let early = TestSocket.connected(daemon.socket)
            try #require(early >= 0)
            send(early, status)
            close(early)
            // Reset: SO_LINGER 0 makes close() abort the connection.
            let reset = TestSocket.connected(daemon.socket)
            try #require(reset >= 0)
            send(reset, status)
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(reset, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(reset)
            // Closed without sending anything.
            let silent = TestSocket.connected(daemon.socket)
            try #require(silent >= 0)
            close(silent)
            // Closed during the reply: one byte read, the rest left.
            let during = TestSocket.connected(daemon.socket)
            try #require(during >= 0)
            send(during, status)
            var byte: UInt8 = 0
            #expect(read(during, &byte, 1) == 1, "round \(round): the reply starts")
            close(during)
        }
        let ping = try request(daemon.socket, #"{"command":"ping"}"#)
        #expect(ping["ok"] as? Bool == true)
        #expect(daemon.process.isRunning, "exit status \(daemon.process.isRunning ? 0 : daemon.process.terminationStatus)")
    }

    /// Defect 6: requests were read one at a time with a 2 s timeout per read(); a client trickling a byte every
    /// 300 ms held the socket and delayed everybody's ping by seconds (the hook has 800 ms).
    @Test func aTricklingClientDelaysNobodyAndHitsTheRequestDeadline() throws {
        let daemon = try start(try HostFixtures.rtxHost(), config: Self.config)
        defer { if daemon.process.isRunning { daemon.process.terminate(); daemon.process.waitUntilExit() } }
        let slow = TestSocket.connected(daemon.socket)
        try #require(slow >= 0)
        defer { close(slow) }
        let trickled = Array(#"{"command":"status"}"#.utf8)
        let done = DispatchSemaphore(value: 0)
        let trickler = Thread {
            for byte in trickled {
                var value = byte
                if send(slow, &value, 1, Int32(MSG_NOSIGNAL)) != 1 { break }
                usleep(300_000)
            }
            done.signal()
        }
        trickler.start()
        var worst: Duration = .zero
        for _ in 0..<5 {
            let started = ContinuousClock.now
            let ping = try request(daemon.socket, #"{"command":"ping"}"#)
            worst = max(worst, ContinuousClock.now - started)
            #expect(ping["ok"] as? Bool == true)
        }
        #expect(worst < .milliseconds(400), "slowest ping \(worst) while another client trickles its request")
        // The trickler gets cut off at the whole-request deadline (2 s) with a reason, not after 20 × 300 ms.
        var reply = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while true {
            let n = buffer.withUnsafeMutableBytes { read(slow, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            reply.append(contentsOf: buffer[0..<n])
        }
        #expect(String(decoding: reply, as: UTF8.self).contains("request incomplete after 2"))
        done.wait()
    }

    /// Defect 3: when accept() failed (EMFILE: the descriptor limit reached), the listener stayed readable and the
    /// accept handler ran again at once, spinning a core for as long as the limit lasted.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit")))
    func aFailingAcceptDoesNotSpinAndRecovers() throws {
        let daemon = try start(try HostFixtures.rtxHost(), config: Self.config)
        defer { if daemon.process.isRunning { daemon.process.terminate(); daemon.process.waitUntilExit() } }
        let pid = daemon.process.processIdentifier
        #expect(try request(daemon.socket, #"{"command":"ping"}"#)["ok"] as? Bool == true)
        // The lowest free descriptor number as the limit: the next accept() fails with EMFILE.
        let open = Set(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { Int($0) })
        let limit = (0...).first { !open.contains($0) } ?? 0
        #expect(try prlimit(pid, limit) == 0)
        var clients: [Int32] = []
        defer { clients.forEach { close($0) } }
        for _ in 0..<3 {
            let fd = TestSocket.connected(daemon.socket)
            try #require(fd >= 0)
            _ = Array(#"{"command":"ping"}"#.utf8 + [10]).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            clients.append(fd)
        }
        let before = try cpuTicks(pid)
        usleep(1_000_000)
        let spent = try cpuTicks(pid) - before
        #expect(spent < 20, "\(spent) CPU ticks in one second while accept() fails")
        #expect(try prlimit(pid, 1024) == 0)
        // Once descriptors are available again the waiting clients are served.
        for fd in clients {
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            #expect(n > 0 && String(decoding: buffer[0..<max(n, 0)], as: UTF8.self).contains(#""ok":true"#))
        }
        #expect(daemon.process.isRunning)
    }

    func prlimit(_ pid: Int32, _ files: Int) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        process.arguments = ["--pid", "\(pid)", "--nofile=\(files):"]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
    func cpuTicks(_ pid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name (field 2) may contain spaces: count from the closing parenthesis.
        let after = try #require(stat.lastIndex(of: ")"))
        let fields = stat[stat.index(after: after)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}

extension DaemonCommandTests {
    /// Defect 9: one malformed address in a release refused the whole request, so the good functions of that VM
    /// were never handled.
    @Test func aBadAddressInAReleaseRejectsOnlyThatAddress() throws {
        let daemon = try start(try HostFixtures.rtxHost(), config: Self.config)
        defer { if daemon.process.isRunning { daemon.process.terminate(); daemon.process.waitUntilExit() } }
        let reply = try request(daemon.socket,
            #"{"command":"released","source":"hook","domain":"vm","addresses":["0000:01:00.0","0000:zz:00.0"]}"#)
        #expect(reply["ok"] as? Bool == true)
        let lines = try #require(reply["lines"] as? [String])
        #expect(lines.first == "release of 1 function(s) accepted")
        #expect(lines.count == 2 && lines[1].hasPrefix("rejected: ") && lines[1].contains("0000:zz:00.0"), "\(lines)")
        let reset = try request(daemon.socket, #"{"command":"clear","addresses":["0000:01:00.0","bogus"]}"#)
        #expect(reset["ok"] as? Bool == false, "operator commands stay all-or-nothing")
    }
}

extension DaemonCommandTests {
    /// Defect 8: SIGHUP applied the selection but silently kept the old target driver, timeouts, state_dir,
    /// log_dirs and textfile. Now a reload applies everything or nothing, and says which keys need a restart.
    @Test func aReloadThatNeedsARestartIsRejectedWholeWithTheKeys() throws {
        let daemon = try start(try HostFixtures.rtxHost(), config: Self.config)
        defer { if daemon.process.isRunning { daemon.process.terminate(); daemon.process.waitUntilExit() } }
        // Selects one more device (applicable) and changes two restart-only keys: nothing may be applied.
        try (Self.config + "[[gpu]]\nids = [\"8086:1533\"]\n[daemon]\ntarget_driver = \"pci-stub\"\n"
            + "[libvirt]\nlog_dirs = [\"/srv/libvirt-logs\"]\n")
            .write(toFile: daemon.config, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        var alert: [String: Any]?
        for _ in 0..<100 where alert == nil {
            let status = try request(daemon.socket, #"{"command":"status"}"#)
            let view = (status["status"] as? [String: Any])?["daemon"] as? [String: Any]
            alert = (view?["last_alerts"] as? [[String: Any]])?.last { $0["kind"] as? String == "config-rejected" }
            if alert == nil { usleep(50_000) }
        }
        let message = try #require(alert?["message"] as? String)
        #expect(message.contains("[daemon] target_driver, [libvirt] log_dirs changed and need a restart"), "\(message)")
        let devices = try #require((try request(daemon.socket, #"{"command":"status"}"#)["status"]
            as? [String: Any])?["devices"] as? [[String: Any]])
        #expect(devices.filter { $0["selected"] as? Bool == true }.count == 2, "not even the selection changed")
        #expect(devices.allSatisfy { $0["target_driver"] as? String == "vfio-pci" })
    }
}

extension DaemonCommandTests {
    /// Defect 1: `WATCHDOG=1` kept arriving while status requests hung behind a sysfs read that never returned.
    /// Here `driver_override` becomes a FIFO nobody writes: the enforcer blocks in it on the next status, and the
    /// pings must stop within one watchdog interval.
    @Test func theWatchdogStopsWhenTheEnforcerIsStuck() throws {
        let dir = "/tmp/gpumon-wd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let notify = TestSocket.bound(dir + "/notify", type: SOCK_DGRAM)
        try #require(notify >= 0)
        defer { close(notify) }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(notify, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let sys = try HostFixtures.rtxHost()
        let daemon = try start(sys, config: Self.config,
            environment: ["NOTIFY_SOCKET": dir + "/notify", "WATCHDOG_USEC": "400000"])
        let override = sys.tree.path(try #require(sys.path(of: PCIAddress(bus: 1, device: 0, function: 0))) + "/driver_override")
        defer {
            // Unblock the reader, and put a regular file back so no later read blocks: open the FIFO's write end
            // first (the blocked reader holds the other), then replace the name, then write.
            let fd = open(override, O_WRONLY | O_NONBLOCK)
            try? "(null)\n".write(toFile: override + ".new", atomically: false, encoding: .utf8)
            rename(override + ".new", override)
            if fd >= 0 { _ = write(fd, "(null)\n", 7); close(fd) }
            daemon.process.terminate()
            daemon.process.waitUntilExit()
        }
        /// WATCHDOG=1 messages received during `duration`.
        func pings(during duration: Duration) -> Int {
            let end = ContinuousClock.now + duration
            var count = 0
            var buffer = [UInt8](repeating: 0, count: 4096)
            while ContinuousClock.now < end {
                let n = buffer.withUnsafeMutableBytes { recv(notify, $0.baseAddress, $0.count, 0) }
                if n > 0, String(decoding: buffer[0..<n], as: UTF8.self).contains("WATCHDOG=1") { count += 1 }
            }
            return count
        }
        #expect(pings(during: .seconds(1)) >= 2, "pings while healthy")
        try FileManager.default.removeItem(atPath: override)
        try #require(mkfifo(override, 0o600) == 0)
        let client = TestSocket.connected(daemon.socket)
        try #require(client >= 0)
        defer { close(client) }
        _ = Array(#"{"command":"status"}"#.utf8 + [10]).withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        _ = pings(during: .milliseconds(800))  // up to one interval of pings for round trips begun before
        #expect(pings(during: .seconds(1)) == 0, "pings while the enforcer is stuck in a sysfs read")
    }
}
