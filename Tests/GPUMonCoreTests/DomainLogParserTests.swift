import Foundation
import GPUMonCore
import GPUMonTestSupport
import Testing

@Suite struct DomainLogParserTests {
    func addresses(_ texts: String...) -> [PCIAddress] { texts.compactMap { PCIAddress($0) } }

    func events(_ text: String) -> [DomainLogEvent] {
        var parser = DomainLogParser()
        return text.split(separator: "\n", omittingEmptySubsequences: false).flatMap { parser.feed($0) }
    }

    @Test func realLogWithoutHostdevsGivesTwoRunsAndNoErrors() throws {
        let log = try LibvirtFixtures.text("instance-0000001a.log")
        #expect(events(log) == [
            .started([]), .stopped(reason: "destroyed"), .started([]), .stopped(reason: "destroyed"),
        ])
    }

    @Test func jsonHostdevsAreCollectedFromTheCommandLine() throws {
        let log = LibvirtFixtures.log(try LibvirtFixtures.text("instance-0000001b.log"), adding: [
            LibvirtFixtures.jsonDevice("0000:01:00.0", index: 0),
            LibvirtFixtures.jsonDevice("0000:01:00.1", index: 1),
        ])
        #expect(events(log) == [.started(addresses("0000:01:00.0", "0000:01:00.1")), .stopped(reason: "destroyed")])
    }

    @Test func legacyHostdevFormsAreCollected() throws {
        let log = LibvirtFixtures.log(try LibvirtFixtures.text("instance-0000001b.log"), adding: [
            LibvirtFixtures.legacyDevice("0000:41:00.0", index: 0),
            LibvirtFixtures.legacyDevice("41:00.1", index: 1),
        ])
        #expect(events(log).first == .started(addresses("0000:41:00.0", "0000:41:00.1")))
    }

    @Test func oldLibvirtWritesTheWholeCommandLineOnOneLine() {
        let log = """
            2019-03-10 20:39:36.510+0000: starting up libvirt version: 4.0.0, package: 1ubuntu8.6, qemu version: 2.11.1, hostname: pre-node1
            LC_ALL=C PATH=/bin QEMU_AUDIO_DRV=none /usr/bin/kvm-spice -name guest=instance-00000038,debug-threads=on -S -device vfio-pci,host=06:00.0,id=hostdev0,bus=pci.0,addr=0x5 -device driver=vfio-pci,sysfsdev=/sys/bus/pci/devices/0000:06:00.1,id=hostdev1 -msg timestamp=on
            2019-03-10 20:39:36.510+0000: Domain id=2 is tainted: host-cpu
            2019-03-10 20:41:02.112+0000: shutting down, reason=shutdown
            """
        #expect(events(log) == [.started(addresses("0000:06:00.0", "0000:06:00.1")), .stopped(reason: "shutdown")])
    }

    @Test func interleavedTimestampsAndErrorLines() throws {
        let log = """
            2026-11-25 00:09:25.943+0000: starting up libvirt version: 9.0.0, package: 9.0.0-4+deb12u2 (Debian), qemu version: 7.2.22
            LC_ALL=C \\
            /usr/bin/qemu-system-x86_64 \\
            \(LibvirtFixtures.jsonDevice("0000:01:00.0", index: 0))
            -msg timestamp=on
            2026-11-25 00:09:25.943+0000: Domain id=3 is tainted: high-privileges
            char device redirected to /dev/pts/0 (label charserial0)
            2026-11-25T00:09:27.100001Z qemu-system-x86_64: vfio_err_notifier_handler(0000:01:00.0) Unrecoverable error detected. Please collect any data possible and then kill the guest
            2026-11-25T00:09:28.000002Z qemu-system-x86_64: terminating on signal 15 from pid 6955 (libvirtd)
            2026-11-25T00:09:28.500000Z qemu-system-x86_64: vfio: Unable to power on device, stuck in D3
            2026-11-25 00:09:29.000+0000: internal error: Unknown PCI header type '127' for device '0000:01:00.0'
            2026-11-25 00:09:31.614+0000: shutting down, reason=crashed
            """
        let lines = log.split(separator: "\n").map(String.init)
        #expect(events(log) == [
            .started(addresses("0000:01:00.0")),
            .error(lines[7]), .error(lines[9]), .error(lines[10]),
            .stopped(reason: "crashed"),
        ])
    }

    @Test func timestampPrefixes() {
        let libvirt = LogLinePrefix("2026-11-25 00:09:31.614+0000: shutting down, reason=destroyed")
        #expect(libvirt.kind == .libvirt && libvirt.message == "shutting down, reason=destroyed")
        let qemu = LogLinePrefix("2026-11-25T00:09:30.412071Z qemu-system-x86_64: terminating on signal 15")
        #expect(qemu.kind == .qemu && qemu.message == "qemu-system-x86_64: terminating on signal 15")
        let none = LogLinePrefix("-msg timestamp=on")
        #expect(none.kind == nil && none.message == "-msg timestamp=on")
        #expect(LogLinePrefix("2026-11-25 00:09").kind == nil)
    }

    @Test(arguments: [
        ("vfio-pci 0000:10:00.0: not ready 65535ms after FLR; giving up", true),
        ("vfio-pci 0000:84:00.1: Unable to change power state from D3cold to D0, device inaccessible", true),
        ("qemu-system-x86_64: -device vfio-pci,host=0000:06:00.0: vfio 0000:06:00.0: group 7 is not viable", true),
        ("kvm: vfio: Cannot reset device 0000:00:1f.3, no available reset mechanism.", true),
        ("qemu-system-x86_64: terminating on signal 15 from pid 6955 (libvirtd)", false),
        ("Domain id=3 is tainted: high-privileges", false),
    ])
    func errorMatcher(line: String, isError: Bool) {
        #expect(VFIOErrorMatcher.isError(line) == isError)
    }

    @Test func aStartBlockWithoutCommandLineEndsAtTheNextTimestampedLine() {
        let log = """
            2026-11-25 00:09:25.943+0000: starting up libvirt version: 9.0.0
            2026-11-25 00:09:31.614+0000: shutting down, reason=failed
            """
        #expect(events(log) == [.started([]), .stopped(reason: "failed")])
    }

    @Test func domainFromFileName() {
        #expect(DomainLogParser.domain(forFileName: "instance-0000001a.log") == "instance-0000001a")
        #expect(DomainLogParser.domain(forFileName: "instance-0000001a.log.0") == nil)
        #expect(DomainLogParser.domain(forFileName: ".log") == nil)
    }

    @Test func trackerReportsOnlyRunsWithHostdevsOnceWithTheirErrors() throws {
        let gpu = LibvirtFixtures.log(try LibvirtFixtures.text("instance-0000001a.log"), adding: [
            LibvirtFixtures.jsonDevice("0000:01:00.0", index: 0)
        ])
        // First run: an error line; second run: clean.
        let withError = gpu.replacingOccurrences(
            of: "char device redirected to /dev/pts/0 (label charserial0)\n2026-11-25T00:09:30",
            with: "2026-11-25T00:09:29.000000Z qemu-system-x86_64: vfio_err_notifier_handler(0000:01:00.0) Unrecoverable error detected.\n2026-11-25T00:09:30")
        var tracker = DomainLogTracker(domain: "instance-0000001a")
        let signals = withError.split(separator: "\n").compactMap { tracker.feed($0) }
        // Each run's start is reported too (the VM-run identity counts starts), before its stop.
        #expect(signals.map(\.kind) == [.started, .stopped, .started, .stopped])
        #expect(signals.filter { $0.kind == .started }.allSatisfy { $0.addresses == addresses("0000:01:00.0") })
        let releases = signals.filter { $0.kind == .stopped }
        #expect(releases.count == 2)
        #expect(releases.map(\.addresses) == [addresses("0000:01:00.0"), addresses("0000:01:00.0")])
        #expect(releases.allSatisfy { $0.source == .log && $0.domain == "instance-0000001a" && $0.reason == "destroyed" })
        #expect(releases[0].errorLines.count == 1 && releases[1].errorLines.isEmpty)

        var plain = DomainLogTracker(domain: "instance-0000001b")
        let none = try LibvirtFixtures.text("instance-0000001b.log").split(separator: "\n").compactMap { plain.feed($0) }
        #expect(none.isEmpty, "a VM without host devices is not reported")
    }
}
