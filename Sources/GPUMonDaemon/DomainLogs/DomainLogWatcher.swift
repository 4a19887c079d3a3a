public import GPUMonCore
public import Logging
public import ServiceLifecycle

/// Signal 1 of "a VM released its GPU": follows libvirt's per-domain logs and reports each
/// `shutting down, reason=…` of a domain that had vfio-pci functions.
///
/// Watches the configured directories (`[libvirt] log_dirs`) — not the files — with inotify, so new domains,
/// appends, copytruncate, rename rotation and deletion are all seen; a directory that does not exist yet is
/// waited for through its nearest existing ancestor. No polling: the task sleeps until the kernel queues an
/// event.
///
/// For each stop it calls `onRelease` with `source: .log`, the domain (the file name without `.log`), the
/// functions of the latest `starting up` block, the shutdown reason and the vfio/PCI error lines seen since that
/// start. Domains without host devices are not reported.
///
/// Positions (and each domain's latest functions) are saved in `stateDirectory/logpos.json` after each batch of
/// releases has been delivered, otherwise at most every ten seconds and at shutdown. At most
/// ``DomainLogTailer/maxOpenFiles`` descriptors are open; reading memory is bounded by a fixed window. So:
/// - a restart resumes every known file where it stopped, and a stop written while the daemon was down is
///   reported once, at startup (at-least-once: a crash between delivery and save repeats it; the daemon
///   deduplicates releases anyway);
/// - a file rotated while the daemon was down is found again by inode among `x.log.N` and its tail is read;
/// - a restart resumes at the saved offset without re-reading history (the saved position carries the latest
///   start's functions);
/// - a file never seen before is read from a bounded tail (``DomainLogTailer/historyWindow``) to learn the
///   domain's current functions, but its old stops are not reported — unless it was written after the previous
///   daemon's last save (a VM that started and stopped while gpumon was down), which is reported.
///
/// Kolla-Ansible: logs are inside the `nova_libvirt` container unless a volume brings them out; a path such as
/// `/proc/<libvirtd pid>/root/var/log/libvirt/qemu` works (see `docs/vm-lifecycle.md`), until the container
/// restarts with a new pid.
public struct DomainLogWatcher: Service {
    private let directories: [String]
    private let stateDirectory: String
    private let logger: Logger
    private let onRelease: @Sendable (ReleaseSignal) async -> Void
    private let onReady: (@Sendable () -> Void)?
    /// `false` in a dry run: positions are not saved, so a real daemon later still reports what happened.
    private let persistPositions: Bool

    /// - Parameters:
    ///   - directories: absolute directories holding `<domain>.log` files (`Config.libvirt.logDirs`).
    ///   - stateDirectory: where `logpos.json` lives (`Config.daemon.stateDir`); created when missing.
    ///   - logger: problems are logged at warning (unreadable file, unsaveable positions), details at debug.
    ///   - onRelease: called once per stop, in log order, one at a time; reading waits while it runs.
    public init(directories: [String], stateDirectory: String, logger: Logger, persistPositions: Bool = true,
        onRelease: @escaping @Sendable (ReleaseSignal) async -> Void) {
        self.init(directories: directories, stateDirectory: stateDirectory, logger: logger, onReady: nil,
            persistPositions: persistPositions, onRelease: onRelease)
    }

    /// As above; `onReady` is called once the directories are watched and the existing logs read (tests).
    init(directories: [String], stateDirectory: String, logger: Logger, onReady: (@Sendable () -> Void)?,
        persistPositions: Bool = true, onRelease: @escaping @Sendable (ReleaseSignal) async -> Void) {
        self.persistPositions = persistPositions
        self.directories = directories
        self.stateDirectory = stateDirectory
        self.logger = logger
        self.onReady = onReady
        self.onRelease = onRelease
    }

    /// Follows the logs until graceful shutdown or cancellation.
    ///
    /// - Throws: ``InotifyError`` when no inotify instance can be created (`EMFILE`: the per-user instance limit)
    ///   or the inotify descriptor cannot be read.
    public func run() async throws {
        let inotify = try Inotify()
        let events = InotifyEventStream(inotify)
        let tailer = DomainLogTailer(
            inotify: inotify, directories: directories, stateDirectory: stateDirectory, logger: logger)
        defer { tailer.closeAll() }
        for release in tailer.start() { await onRelease(release) }
        if persistPositions { tailer.persist(force: true) }
        onReady?()
        for try await batch in events.cancelOnGracefulShutdown() {
            for release in tailer.handle(batch) { await onRelease(release) }
            if persistPositions { tailer.persist() }
        }
        // Saves between releases are coalesced (``DomainLogTailer/saveInterval``): the last positions now.
        if persistPositions { tailer.persist(force: true) }
    }
}
