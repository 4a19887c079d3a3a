public import GPUMonCore
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
                            // A process that exited before the filter named it is released here.
                            for (pid, groups, name) in await tracker.groupOpened(number) {
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
        await lifecycle.release(ReleaseSignal(source: .process, domain: "pid \(pid) (\(name))", addresses: addresses,
            reason: "process exited"))
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

    init(proc: FileTree, exits: ProcExitStream, logger: Logger) {
        self.proc = proc
        self.scanner = VFIOHolderScanner(proc: proc)
        self.exits = exits
        self.logger = logger
    }

    func rescan() {
        var fresh: [Int32: Set<Int>] = [:]
        for (group, pids) in scanner.holders() {
            for pid in pids { fresh[pid, default: []].insert(group) }
        }
        for pid in fresh.keys where names[pid] == nil { names[pid] = processName(pid) }
        groupsByPID = fresh
        _ = updateFilter()
    }

    /// A group was opened: its holders are new (or more). Returns holders that exited before the filter was
    /// updated (their exit event was dropped by the old filter).
    func groupOpened(_ group: Int) -> [(Int32, Set<Int>, String)] {
        // The open may be QEMU's; reading /proc right away finds the descriptor it just got.
        for pid in scanner.holders()[group] ?? [] {
            groupsByPID[pid, default: []].insert(group)
            if names[pid] == nil { names[pid] = processName(pid) }
        }
        return updateFilter()
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

    private func processName(_ pid: Int32) -> String {
        ((try? proc.readString("\(pid)/comm")) ?? nil) ?? "?"
    }
}
