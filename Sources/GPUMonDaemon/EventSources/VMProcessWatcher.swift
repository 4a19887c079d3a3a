import GPUMonCore
public import HostFS
public import Logging
import ProcEvents
public import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The third VM-stop signal, independent of libvirt: the process that held `/dev/vfio/<group>` open exited.
///
/// inotify on `/dev/vfio` says when a group is opened (QEMU starting); gpumon then reads `/proc/*/fd` once to learn
/// which processes hold it. The kernel's process-events connector (libnl-3) reports every process exit; the exit of
/// a holder is a release of the selected functions in its groups. No polling: both sources wake only on events.
public struct VMProcessWatcher: Service {
    let dev: FileTree
    let proc: FileTree
    let enforcer: Enforcer
    let lifecycle: VMLifecycle
    let logger: Logger

    public init(dev: FileTree = FileTree(root: "/dev"), proc: FileTree, enforcer: Enforcer, lifecycle: VMLifecycle,
        logger: Logger) {
        self.dev = dev
        self.proc = proc
        self.enforcer = enforcer
        self.lifecycle = lifecycle
        self.logger = logger
    }

    public func run() async throws {
        let exits: ProcExitStream
        do {
            exits = try ProcExitStream()
        } catch {
            logger.warning("process-exit signal unavailable (\(error)); VM stops come from logs and the hook only")
            try? await gracefulShutdown()
            return
        }
        let inotify: Inotify
        do {
            inotify = try Inotify()
            try watchVFIODirectory(inotify)
        } catch {
            logger.warning("cannot watch \(dev.path("vfio")) (\(error)); the process-exit signal is off")
            try? await gracefulShutdown()
            return
        }
        let tracker = HolderTracker(proc: proc, exits: exits, logger: logger)
        await tracker.rescan()
        let watcher = self
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await batch in InotifyEventStream(inotify).cancelOnGracefulShutdown() {
                    for event in batch {
                        if event.isOverflow {
                            await tracker.rescan()
                        } else if event.name == "vfio" && event.has(InotifyMask.create) {
                            try? watcher.watchVFIODirectory(inotify)
                        } else if let number = Int(event.name), event.has(InotifyMask.open) {
                            let (fresh, gone) = await tracker.groupOpened(number)
                            // A new holder is a new VM run on the group's functions (the VM-run identity).
                            for (pid, groups, name) in fresh {
                                await watcher.started(pid: pid, name: name, groups: groups)
                            }
                            // A process that exited before the filter named it is released here.
                            for (pid, groups, name) in gone {
                                await watcher.released(pid: pid, name: name, groups: groups)
                            }
                        } else if event.name == "devices" && event.has(InotifyMask.create) {
                            try? watcher.watchVFIODirectory(inotify)
                        } else if event.name.hasPrefix("vfio"), Int(event.name.dropFirst(4)) != nil,
                            event.has(InotifyMask.open)
                        {
                            // An IOMMUFD device node (/dev/vfio/devices/vfioN) opened: the scanner maps its
                            // holders to the device's group (issue 10, defect 11).
                            await tracker.rescan()
                        }
                    }
                }
            }
            group.addTask {
                for try await element in exits.cancelOnGracefulShutdown() {
                    switch element {
                    case .exited(let pid):
                        guard let (groups, name) = await tracker.exited(pid) else { continue }
                        await watcher.released(pid: pid, name: name, groups: groups)
                    case .overflow:
                        // Exits were lost: any holder that is gone now exited unseen.
                        for (pid, groups, name) in await tracker.reconcileAfterOverflow() {
                            await watcher.released(pid: pid, name: name, groups: groups)
                        }
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Watches `/dev/vfio` for group opens, or `/dev` for its creation when vfio is not loaded yet.
    func watchVFIODirectory(_ inotify: Inotify) throws {
        if dev.isDirectory("vfio") {
            _ = try inotify.addWatch(dev.path("vfio"), mask: InotifyMask.open | InotifyMask.create)
            // IOMMUFD's per-device nodes (kernels with VFIO_DEVICE_CDEV; absent on Debian 12's 6.1).
            if dev.isDirectory("vfio/devices") {
                _ = try? inotify.addWatch(dev.path("vfio/devices"), mask: InotifyMask.open)
            }
        } else {
            _ = try inotify.addWatch(dev.root, mask: InotifyMask.create | InotifyMask.onlyDirectory)
        }
    }

    func released(pid: Int32, name: String, groups: Set<Int>) async {
        let (_, topology, selection) = await enforcer.view()
        let addresses = selection.selectedAddresses.filter { topology[$0]?.iommuGroup.map(groups.contains) == true }
        guard !addresses.isEmpty else { return }
        logger.info("VM process exited", metadata: [
            "pid": "\(pid)", "process": "\(name)", LogKey.group: "\(groups.sorted())",
        ])
        await lifecycle.submit(ReleaseSignal(source: .process, domain: name, addresses: addresses,
            reason: "process \(pid) exited"))
    }

    func started(pid: Int32, name: String, groups: Set<Int>) async {
        let (_, topology, selection) = await enforcer.view()
        let addresses = selection.selectedAddresses.filter { topology[$0]?.iommuGroup.map(groups.contains) == true }
        guard !addresses.isEmpty else { return }
        logger.info("VM process opened its group", metadata: [
            "pid": "\(pid)", "domain": "\(name)", LogKey.group: "\(groups.sorted())",
        ])
        await lifecycle.submit(ReleaseSignal(source: .process, domain: name, addresses: addresses,
            reason: "process \(pid) opened the group", kind: .started))
    }
}

/// Which processes hold which VFIO groups, learned from `/proc` when a group is opened. It keeps the
/// process-events socket filter in step, so only those processes' exits wake the daemon.
actor HolderTracker {
    private let scanner: VFIOHolderScanner
    private let proc: FileTree
    private let exits: ProcExitStream
    private let logger: Logger
    private var groupsByPID: [Int32: Set<Int>] = [:]
    private var names: [Int32: String] = [:]
    /// Where libvirt keeps `<domain>.pid` (`/run/libvirt/qemu`).
    private let libvirtRun: FileTree
    private let ownPID = getpid()

    init(proc: FileTree, exits: ProcExitStream, logger: Logger,
        libvirtRun: FileTree = FileTree(root: "/run/libvirt/qemu")) {
        self.proc = proc
        self.libvirtRun = libvirtRun
        self.scanner = VFIOHolderScanner(proc: proc)
        self.exits = exits
        self.logger = logger
    }

    func rescan() {
        var fresh: [Int32: Set<Int>] = [:]
        for (group, pids) in scanner.holders() {
            for pid in pids where pid != ownPID { fresh[pid, default: []].insert(group) }
        }
        for pid in fresh.keys where names[pid] == nil { names[pid] = processName(pid) }
        groupsByPID = fresh
        _ = updateFilter()
    }

    /// A group was opened: its holders are new (or more). Returns the processes that hold the group for the first
    /// time, and the holders that exited before the filter was updated (their exit event was dropped by the old
    /// filter).
    func groupOpened(_ group: Int) -> (fresh: [(Int32, Set<Int>, String)], gone: [(Int32, Set<Int>, String)]) {
        var fresh: [(Int32, Set<Int>, String)] = []
        // The open may be QEMU's; reading /proc right away finds the descriptor it just got.
        // gpumon itself opens the group for a VFIO hot reset: that is no VM run (seen in the lab: counting it
        // as a start made the stop's late signals look like a second stop, and reset the slot twice).
        for pid in scanner.holders()[group] ?? [] where pid != ownPID {
            if groupsByPID[pid]?.contains(group) != true { fresh.append((pid, [group], "")) }
            groupsByPID[pid, default: []].insert(group)
            if names[pid] == nil { names[pid] = processName(pid) }
        }
        let gone = updateFilter()
        return (fresh.map { ($0.0, $0.1, names[$0.0] ?? "pid \($0.0)") }, gone)
    }

    /// The groups a process held when it exited, or `nil` for a process that held none.
    func exited(_ pid: Int32) -> (Set<Int>, String)? {
        guard let groups = groupsByPID.removeValue(forKey: pid) else { return nil }
        _ = updateFilter()
        return (groups, names.removeValue(forKey: pid) ?? "?")
    }

    /// After lost exit events: the holders that are gone.
    func reconcileAfterOverflow() -> [(Int32, Set<Int>, String)] {
        let gone = groupsByPID.filter { !proc.exists(String($0.key)) }
        for pid in gone.keys { groupsByPID[pid] = nil }
        defer { rescan() }
        return gone.map { ($0.key, $0.value, names.removeValue(forKey: $0.key) ?? "?") }
    }

    /// Points the socket filter at the followed processes, then drops (and returns) any that already exited.
    private func updateFilter() -> [(Int32, Set<Int>, String)] {
        do {
            try exits.follow(Set(groupsByPID.keys))
        } catch {
            logger.warning("cannot filter process events (\(error)); following every exit")
            try? exits.follow(Set((0..<101).map(Int32.init)))  // more than 100: the filter passes every exit
        }
        let gone = groupsByPID.filter { !proc.exists(String($0.key)) }
        for pid in gone.keys { groupsByPID[pid] = nil }
        return gone.map { ($0.key, $0.value, names.removeValue(forKey: $0.key) ?? "?") }
    }

    /// The libvirt domain a VMM process runs (`instance-0000001a`), else `pid N (comm)`: every log line and
    /// alert about its stop names it. Read while the process lives: its `/proc` entry is gone at the exit.
    private func processName(_ pid: Int32) -> String {
        if let domain = QEMUDomainName.domain(ofPID: pid, proc: proc, libvirtRun: libvirtRun) { return domain }
        return "pid \(pid) (\(((try? proc.readString("\(pid)/comm")) ?? nil) ?? "?"))"
    }
}

/// Names the libvirt domain of a QEMU process.
enum QEMUDomainName {
    /// `/run/libvirt/qemu/<domain>.pid` holding `pid`, else `-name guest=<domain>,…` in its command line.
    static func domain(ofPID pid: Int32, proc: FileTree, libvirtRun: FileTree) -> String? {
        if let names = (try? libvirtRun.list("")) ?? nil {
            for name in names where name.hasSuffix(".pid") && name.count > 4 {
                let text = ((try? libvirtRun.readString(name, maxBytes: 64)) ?? nil) ?? ""
                if Int32(text.filter { !$0.isWhitespace }) == pid { return String(name.dropLast(4)) }
            }
        }
        guard let bytes = (try? proc.readBytes("\(pid)/cmdline", maxBytes: 1 << 20)) ?? nil else { return nil }
        return QEMUCommandLine.guestName(arguments: bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
    }
}
