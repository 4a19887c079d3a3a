import GPUMonCore
import HostFS
import Logging

/// The state machine behind ``DomainLogWatcher``: which directories are watched, which logs are open, how far
/// each is read, and each domain's ``DomainLogTracker``.
///
/// Owned by one task (the watcher's `run()`), never shared. Every method returns the releases it found; the
/// caller delivers them and then calls ``persist()``.
///
/// Following a file is reconciled, not event-driven: whatever the event on a name (create, modify, move, delete,
/// attribute change), the open file for that path is compared with what the path is now. A different inode means
/// the old one was rotated away or deleted: it is read to its end and closed, and the new one is read from its
/// start. This keeps the logic right when events arrive late, in batches, or after the fact.
final class DomainLogTailer {
    enum Role: Hashable {
        /// The configured directory `targets[i]` itself: its `*.log` files are followed.
        case logDirectory(Int)
        /// The nearest existing ancestor of `targets[i]`, watched until the next path component appears.
        case ancestor(Int)
    }

    private struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64
        init(_ identity: FileIdentity) {
            device = identity.device
            inode = identity.inode
        }
    }

    /// How many finished inodes are remembered per domain: virtlogd keeps 3 backups.
    private static let finishedMemory = 8
    /// Descriptors kept open at once; the least recently read file is closed beyond this (and reopened by inode
    /// when it grows again). libvirt never deletes `*.log`: a busy node has thousands.
    static let maxOpenFiles = 32
    /// A file read without a saved position (never seen, rotated while down, rescanned) is read from this many
    /// bytes before its end, not from byte 0: twice virtlogd's default `max_size` (2 MiB), so a virtlogd log is
    /// read whole and a 512 MiB one costs what a 4 MiB one does.
    static let historyWindow: Int64 = 4 << 20
    /// Positions are saved at once after a release, otherwise at most this often (and at shutdown): each save is an
    /// fsync and a rename, and a crash only means re-reading a few lines whose stops are deduplicated anyway.
    static let saveInterval: Duration = .seconds(10)

    private struct Watch {
        var path: String
        var roles: Set<Role>
    }

    private let inotify: Inotify
    private let targets: [String]
    private let logger: Logger
    private var store: LogPositionStore
    private var watches: [Int32: Watch] = [:]
    private var files: [String: TailedFile] = [:]
    private var trackers: [String: DomainLogTracker] = [:]
    /// Per `.log` path, the inodes already read to their end (retired or replayed siblings), newest last, so a
    /// rotated file that shows up again as `x.log.N` is not read twice.
    private var finished: [String: [FileKey]] = [:]
    private var found: [ReleaseSignal] = []
    private var saveFailed = false
    /// The open files' paths, least recently read first; at most ``maxOpenFiles``.
    private var openOrder: [String] = []
    /// Per `.log` path, where the unfinished `starting up` block began (saved instead of the read offset).
    private var blockStarts: [String: Int64] = [:]
    private var releasedSinceSave = false
    private var lastSave: ContinuousClock.Instant?
    /// How many times positions were written (tests: saves are coalesced).
    var positionWrites: Int { store.writes }
    /// Bytes read from logs since start (tests: startup reads bounded tails, resumes read nothing old).
    private(set) var bytesRead: Int64 = 0
    /// How many descriptors are open on logs (tests: bounded by ``maxOpenFiles``).
    var openDescriptors: Int { files.values.filter(\.isOpen).count }

    init(inotify: Inotify, directories: [String], stateDirectory: String, logger: Logger) {
        self.inotify = inotify
        self.logger = logger
        var seen: [String] = []
        for directory in directories {
            let clean = FileTree(root: directory).root
            if !seen.contains(clean) { seen.append(clean) }
        }
        targets = seen
        store = LogPositionStore(stateDirectory: stateDirectory)
        if let problem = store.loadProblem { logger.warning("domain logs: \(problem)") }
    }

    // MARK: - API

    /// Watches every directory (or its nearest existing ancestor) and reads what is there: resumed files from
    /// their saved position, files new since the previous run from their start, never-seen old files silently.
    func start() -> [ReleaseSignal] {
        for index in targets.indices { resolve(index, startup: true) }
        return take()
    }

    /// Applies one batch of inotify events.
    func handle(_ events: [InotifyEvent]) -> [ReleaseSignal] {
        for event in events { handle(event) }
        return take()
    }

    /// Saves every followed file's position and latest start: at once after a release or with `force`, otherwise
    /// only when ``saveInterval`` has passed since the last save (and only when something changed).
    func persist(force: Bool = false) {
        let now = ContinuousClock.now
        if !force && !releasedSinceSave, let lastSave, now - lastSave < DomainLogTailer.saveInterval { return }
        var positions: [String: LogPositionStore.Position] = [:]
        for (path, file) in files {
            var position = file.position
            if let start = blockStarts[file.key] { position.offset = min(position.offset, start) }
            if let tracker = trackers[file.key], !tracker.addresses.isEmpty {
                position.addresses = tracker.addresses.map(\.description)
                position.errorLines = tracker.errorLines.isEmpty ? nil : tracker.errorLines
            }
            positions[path] = position
        }
        do {
            try store.save(positions, force: force)
            lastSave = now
            releasedSinceSave = false
            saveFailed = false
        } catch {
            // One warning per failure streak: a read-only state_dir must not flood the journal.
            if !saveFailed { logger.warning("domain logs: cannot save positions: \(error)") }
            saveFailed = true
        }
    }

    /// Closes every open log.
    func closeAll() {
        files.removeAll()
        openOrder.removeAll()
    }

    // MARK: - Directories

    private func take() -> [ReleaseSignal] {
        defer { found = [] }
        if !found.isEmpty { releasedSinceSave = true }
        return found
    }

    private static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// Watches `targets[index]` if it exists, else its nearest existing ancestor (no polling: the ancestor's
    /// `IN_CREATE` brings us back here).
    private func resolve(_ index: Int, startup: Bool) {
        detach(index)
        let target = targets[index]
        while true {
            if FileIdentity.of(path: target)?.isDirectory == true {
                guard let wd = add(target, InotifyMask.logDirectory, role: .logDirectory(index)) else { return }
                // Two configured paths naming one directory (a symlink, a bind mount): follow it once.
                let first = watches[wd]?.roles.contains(where: {
                    if case .logDirectory(let other) = $0 { return other < index }
                    return false
                }) ?? false
                if !first, let path = watches[wd]?.path { scan(path, startup: startup) }
                return
            }
            var ancestor = DomainLogTailer.parent(target)
            while ancestor != "/", FileIdentity.of(path: ancestor)?.isDirectory != true {
                ancestor = DomainLogTailer.parent(ancestor)
            }
            guard let wd = add(ancestor, InotifyMask.ancestor, role: .ancestor(index)) else { return }
            // The next component may have appeared between the check and the watch: look again.
            if let next = nextComponent(of: target, below: ancestor),
                FileIdentity.of(path: next)?.isDirectory == true
            {
                remove(.ancestor(index), from: wd)
                continue
            }
            logger.debug("domain logs: \(target) does not exist; watching \(ancestor) for it")
            return
        }
    }

    private func nextComponent(of target: String, below ancestor: String) -> String? {
        let base = ancestor == "/" ? "" : ancestor
        guard target.hasPrefix(base + "/") else { return nil }
        let rest = target.dropFirst(base.count + 1)
        guard let name = rest.split(separator: "/").first else { return nil }
        return base + "/" + name
    }

    private func add(_ path: String, _ mask: UInt32, role: Role) -> Int32? {
        do {
            // IN_MASK_ADD: the same directory may already be watched in another role.
            let wd = try inotify.addWatch(path, mask: mask | InotifyMask.maskAdd)
            watches[wd, default: Watch(path: path, roles: [])].roles.insert(role)
            return wd
        } catch {
            logger.error("domain logs: cannot watch \(path): \(error)")
            return nil
        }
    }

    private func remove(_ role: Role, from wd: Int32) {
        watches[wd]?.roles.remove(role)
        if watches[wd]?.roles.isEmpty == true {
            watches[wd] = nil
            inotify.removeWatch(wd)
        }
    }

    /// Drops every watch role of `targets[index]`.
    private func detach(_ index: Int) {
        for (wd, watch) in watches {
            for role in watch.roles where role == .logDirectory(index) || role == .ancestor(index) {
                if role == .logDirectory(index) { retireFiles(in: watch.path) }
                remove(role, from: wd)
            }
        }
    }

    // MARK: - Events

    private func handle(_ event: InotifyEvent) {
        if event.isOverflow {
            logger.warning("domain logs: inotify queue overflow; rescanning")
            for index in targets.indices { resolve(index, startup: false) }
            return
        }
        guard let watch = watches[event.watch] else { return }
        if event.has(InotifyMask.deleteSelf) || event.has(InotifyMask.moveSelf) || event.has(InotifyMask.ignored) {
            // The directory went away (or moved): its watch is useless; look for the configured path again.
            watches[event.watch] = nil
            inotify.removeWatch(event.watch)
            for role in watch.roles {
                if case .logDirectory = role { retireFiles(in: watch.path) }
            }
            for role in watch.roles {
                switch role {
                case .logDirectory(let index), .ancestor(let index): resolve(index, startup: false)
                }
            }
            return
        }
        guard !event.name.isEmpty else { return }
        var followed = false
        for role in watch.roles {
            switch role {
            case .ancestor(let index):
                let base = watch.path == "/" ? "" : watch.path
                if event.isDirectory, nextComponent(of: targets[index], below: watch.path) == base + "/" + event.name {
                    resolve(index, startup: false)
                }
            case .logDirectory:
                guard !followed, !event.isDirectory else { continue }
                followed = true
                if let key = rotatedKey(event.name, in: watch.path) {
                    if event.has(InotifyMask.movedTo) || event.has(InotifyMask.create) { readSibling(watch.path + "/" + event.name, key: key) }
                } else {
                    reconcile(watch.path + "/" + event.name)
                }
            }
        }
    }

    // MARK: - Files

    private func domain(of path: String) -> String? {
        DomainLogParser.domain(forFileName: String(path.split(separator: "/").last ?? ""))
    }

    /// Brings the open file for `path` in line with what `path` is now, then reads what is new.
    private func reconcile(_ path: String) {
        guard let domain = domain(of: path) else { return }
        let current = FileIdentity.of(path: path).flatMap { $0.isRegularFile ? $0 : nil }
        if let open = files[path], current.map({ !open.identity.isSameFile(as: $0) }) ?? true {
            retire(open)
        }
        if let current, files[path] == nil {
            open(path, domain: domain, silentUntil: 0, startAt: max(0, current.size - DomainLogTailer.historyWindow))
        }
        if let file = files[path] { consume(file) }
    }

    /// `x.log.3` in `directory` → `directory/x.log`; `nil` for any other name.
    private func rotatedKey(_ name: String, in directory: String) -> String? {
        guard let dot = name.lastIndex(of: "."), Int(name[name.index(after: dot)...]) != nil else { return nil }
        let base = String(name[..<dot])
        guard DomainLogParser.domain(forFileName: base) != nil else { return nil }
        return directory + "/" + base
    }

    private func markFinished(_ key: String, _ identity: FileIdentity) {
        var list = finished[key, default: []].filter { $0 != FileKey(identity) }
        list.append(FileKey(identity))
        finished[key] = list.suffix(DomainLogTailer.finishedMemory)
    }

    private func isFinished(_ key: String, _ identity: FileIdentity) -> Bool {
        finished[key]?.contains(FileKey(identity)) == true
    }

    /// A file renamed to `x.log.N`. Normally it is the followed `x.log`, already finished when its old name
    /// went. One never followed was created and rotated away between two looks (a burst of output, or a busy
    /// daemon): it is read now, all of it reported.
    private func readSibling(_ path: String, key: String) {
        guard let identity = FileIdentity.of(path: path), identity.isRegularFile, !isFinished(key, identity),
            files[key].map({ !$0.identity.isSameFile(as: identity) }) ?? true, let domain = domain(of: key)
        else { return }
        replay(path, key: key, domain: domain, silentUntil: 0, startAt: DomainLogTailer.tail(of: identity))
    }

    /// Reads a file that will not grow any more (renamed away, deleted, replaced) to its end and closes it.
    private func retire(_ file: TailedFile) {
        consume(file, flush: true)
        markFinished(file.key, file.identity)
        files[file.key] = nil
        openOrder.removeAll { $0 == file.key }
        logger.debug("domain logs: finished \(file.path) (rotated or deleted)")
    }

    private func retireFiles(in directory: String) {
        for file in files.values where DomainLogTailer.parent(file.key) == directory { retire(file) }
    }

    private func open(_ path: String, domain: String, silentUntil: Int64, startAt: Int64) {
        do {
            files[path] = try TailedFile(path: path, key: path, domain: domain, silentUntil: silentUntil,
                startAt: startAt)
        } catch {
            logger.warning("domain logs: \(error)")
        }
    }

    /// Marks `file` as the most recently read and closes the least recently read descriptors beyond
    /// ``maxOpenFiles``. Files read once (replays) are not followed and close by themselves.
    private func touch(_ file: TailedFile) {
        guard files[file.key] === file else { return }
        openOrder.removeAll { $0 == file.key }
        openOrder.append(file.key)
        while openOrder.count > DomainLogTailer.maxOpenFiles {
            files[openOrder.removeFirst()]?.closeDescriptor()
        }
    }

    /// The rotated names (`x.log.N`) beside the `.log` path `key`, where a closed file that was rotated away is
    /// looked for by inode.
    private func rotatedNames(of key: String) -> [String] {
        let directory = DomainLogTailer.parent(key)
        let names = (try? FileTree(root: directory).list("")) ?? []
        return rotatedSiblings(of: key, in: names).map(\.path).reversed()
    }

    /// Feeds the new complete lines of `file` to its domain's tracker; collects releases past `silentUntil`.
    private func consume(_ file: TailedFile, flush: Bool = false) {
        guard file.ensureOpen(candidates: file.isOpen ? [] : rotatedNames(of: file.key)) else {
            logger.debug("domain logs: \(file.path) is gone (deleted while not open); its unread tail is lost")
            return
        }
        var tracker = trackers[file.key] ?? DomainLogTracker(domain: file.domain)
        var blockStart = blockStarts[file.key]
        var lineStart = file.offset
        let readBefore = file.bytesRead
        defer { bytesRead += file.bytesRead - readBefore }
        do {
            try file.readLines(flush: flush) { line, end in
                let wasInside = tracker.isInsideStartBlock
                if let release = tracker.feed(line), end > file.silentUntil { found.append(release) }
                if !tracker.isInsideStartBlock {
                    blockStart = nil
                } else if !wasInside {
                    blockStart = lineStart
                }
                lineStart = end
            }
        } catch {
            logger.warning("domain logs: \(error)")
        }
        trackers[file.key] = tracker
        blockStarts[file.key] = blockStart
        touch(file)
    }

    /// Reads a rotated sibling once, from `startAt` to its end, for its history (and its tail after
    /// `silentUntil`).
    private func replay(_ path: String, key: String, domain: String, silentUntil: Int64, startAt: Int64) {
        do {
            let file = try TailedFile(path: path, key: key, domain: domain, silentUntil: silentUntil,
                startAt: startAt)
            consume(file, flush: true)
            markFinished(key, file.identity)
        } catch {
            logger.warning("domain logs: \(error)")
        }
    }

    /// `x.log.N` beside `x.log`, oldest (highest N) first: virtlogd renames `x.log` → `x.log.0` → `x.log.1`….
    private func rotatedSiblings(of path: String, in names: [String]) -> [(path: String, identity: FileIdentity)] {
        let name = String(path.split(separator: "/").last ?? "")
        let directory = DomainLogTailer.parent(path)
        return names.compactMap { candidate -> (Int, String)? in
            guard candidate.hasPrefix(name + "."), let number = Int(candidate.dropFirst(name.count + 1)) else {
                return nil
            }
            return (number, candidate)
        }
        .sorted { $0.0 > $1.0 }
        .compactMap { _, candidate in
            let full = directory + "/" + candidate
            return FileIdentity.of(path: full).flatMap { $0.isRegularFile ? (full, $0) : nil }
        }
    }

    /// Reads a directory's logs: at startup according to the saved positions, later (a directory that appeared
    /// or a rescan) every unknown log from its start.
    private func scan(_ directory: String, startup: Bool) {
        let names: [String]
        do {
            names = try FileTree(root: directory).list("") ?? []
        } catch {
            logger.warning("domain logs: \(error)")
            return
        }
        let logs = names.filter { DomainLogParser.domain(forFileName: $0) != nil }.map { directory + "/" + $0 }
        guard startup else {
            for path in logs { reconcile(path) }
            return
        }
        for path in logs { startupOpen(path, names: names) }
        // Saved files whose path is gone: rotated away while the daemon was down, without a new file yet.
        for (path, saved) in store.loaded where DomainLogTailer.parent(path) == directory && !logs.contains(path) {
            guard let domain = domain(of: path) else { continue }
            resume(path, domain: domain, saved: saved, siblings: rotatedSiblings(of: path, in: names))
        }
    }

    /// The tracker a saved position resumes: the domain's latest start as saved, without re-reading history.
    private func resumedTracker(_ domain: String, _ saved: LogPositionStore.Position) -> DomainLogTracker {
        let addresses = (saved.addresses ?? []).compactMap { try? PCIAddress(parsing: $0) }
        return DomainLogTracker(domain: domain, resumingWith: addresses, errorLines: saved.errorLines ?? [])
    }

    private static func tail(of identity: FileIdentity) -> Int64 {
        max(0, identity.size - historyWindow)
    }

    /// A saved file rotated away while the daemon was down: the sibling holding the saved inode is read from the
    /// saved offset and every newer sibling's tail is reported. Returns whether the saved inode was found.
    @discardableResult
    private func resume(_ path: String, domain: String, saved: LogPositionStore.Position,
        siblings: [(path: String, identity: FileIdentity)]) -> Bool
    {
        trackers[path] = resumedTracker(domain, saved)
        guard let match = siblings.firstIndex(where: {
            $0.identity.device == saved.device && $0.identity.inode == saved.inode
        }) else {
            // Rotated beyond the kept backups: learn the newest sibling's state, report nothing old.
            if let newest = siblings.last {
                replay(newest.path, key: path, domain: domain, silentUntil: Int64.max,
                    startAt: DomainLogTailer.tail(of: newest.identity))
            }
            return false
        }
        for (index, sibling) in siblings.enumerated() where index >= match {
            if index == match {
                replay(sibling.path, key: path, domain: domain, silentUntil: saved.offset,
                    startAt: min(saved.offset, sibling.identity.size))
            } else {
                replay(sibling.path, key: path, domain: domain, silentUntil: 0,
                    startAt: DomainLogTailer.tail(of: sibling.identity))
            }
        }
        return true
    }

    /// Opens a log found at startup: from its saved position when there is one (no history read: the saved
    /// position carries the latest start's functions), else from a bounded tail (``historyWindow``).
    private func startupOpen(_ path: String, names: [String]) {
        guard let domain = domain(of: path), let identity = FileIdentity.of(path: path), identity.isRegularFile else {
            return
        }
        let siblings = rotatedSiblings(of: path, in: names)
        if let saved = store.loaded[path] {
            if saved.device == identity.device && saved.inode == identity.inode {
                trackers[path] = resumedTracker(domain, saved)
                if identity.size >= saved.offset {
                    open(path, domain: domain, silentUntil: saved.offset, startAt: saved.offset)
                } else {
                    // Shorter than the offset: truncated while down (copytruncate), all of it is new.
                    open(path, domain: domain, silentUntil: 0, startAt: DomainLogTailer.tail(of: identity))
                }
            } else {
                // Rotated while down: the saved inode is now a sibling; this file is new.
                resume(path, domain: domain, saved: saved, siblings: siblings)
                open(path, domain: domain, silentUntil: 0, startAt: DomainLogTailer.tail(of: identity))
            }
        } else {
            // Never seen: the newest rotated copy's tail, then this file's, to learn the domain's state. Written after
            // the previous daemon's last save: a domain that ran while gpumon was down, report it. Otherwise (first
            // start, or an old file): report only what comes next.
            if let newest = siblings.last {
                replay(newest.path, key: path, domain: domain, silentUntil: Int64.max,
                    startAt: DomainLogTailer.tail(of: newest.identity))
            }
            let isNew = store.previousSave.map { identity.modified > $0 } ?? false
            open(path, domain: domain, silentUntil: isNew ? 0 : identity.size,
                startAt: DomainLogTailer.tail(of: identity))
        }
        if let file = files[path] { consume(file) }
    }
}
