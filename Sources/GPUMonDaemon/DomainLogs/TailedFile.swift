import SystemPackage

/// One domain log being followed: its identity (device and inode), how far it has been read, and — only while it
/// is busy — an open descriptor.
///
/// libvirt never deletes `*.log` files, so a node collects thousands; one descriptor each would exhaust the
/// daemon's limit. The descriptor is opened on demand and the tailer closes the least recently used ones
/// (``DomainLogTailer/maxOpenFiles``). Reopening checks the device and inode: a path that now names another file
/// means this one was rotated away, and it is looked for among the rotated names the tailer passes.
///
/// Reading continues from ``offset`` (the byte after the last complete line) plus the buffered partial line, with
/// `pread`, so the descriptor has no position to get wrong. Memory is bounded: the file is read in
/// ``chunkBytes`` pieces and lines are handed over as they complete; at most one partial line
/// (≤ ``maxLineBytes``) is kept between reads.
final class TailedFile {
    /// A line longer than this without a newline is cut and treated as complete.
    static let maxLineBytes = 1 << 20
    /// How much is read per `pread`.
    static let chunkBytes = 64 << 10

    /// Where the file was found; after a rotation it may live under another name.
    private(set) var path: String
    /// The tracker this file feeds: the `.log` path, shared with its rotated siblings (`….log.0`).
    let key: String
    let domain: String
    private var descriptor: FileDescriptor?
    private(set) var identity: FileIdentity
    /// The byte after the last complete line read.
    private(set) var offset: Int64
    private var partial: [UInt8] = []
    /// Started mid-file (a bounded tail): the bytes up to the first newline are the end of a line not read.
    private var discardingFirstLine: Bool
    /// Lines ending at or before this offset were written before gpumon's responsibility began: they update the
    /// tracker but are not reported.
    private(set) var silentUntil: Int64
    /// Bytes read from the file so far.
    private(set) var bytesRead: Int64 = 0

    /// Opens `path` to read it from `startAt`. A start inside the file reads from the byte before it and drops
    /// everything up to the first newline, so no line is ever seen cut at the front.
    init(path: String, key: String, domain: String, silentUntil: Int64, startAt: Int64 = 0) throws(InotifyError) {
        let descriptor = try TailedFile.open(path)
        guard let identity = FileIdentity.of(descriptor: descriptor.rawValue) else {
            try? descriptor.close()
            throw InotifyError(operation: "fstat", path: path, errno: .ioError)
        }
        self.descriptor = descriptor
        self.path = path
        self.key = key
        self.domain = domain
        self.identity = identity
        self.silentUntil = silentUntil
        let start = min(max(startAt, 0), identity.size)
        offset = start > 0 ? start - 1 : 0
        discardingFirstLine = start > 0
    }

    deinit { try? descriptor?.close() }

    private static func open(_ path: String) throws(InotifyError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(path, .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
        } catch let err as Errno {
            throw InotifyError(operation: "open", path: path, errno: err)
        } catch {
            throw InotifyError(operation: "open", path: path, errno: .ioError)
        }
    }

    var isOpen: Bool { descriptor != nil }

    /// Gives the descriptor back; the next read reopens by identity.
    func closeDescriptor() {
        try? descriptor?.close()
        descriptor = nil
    }

    /// Makes sure a descriptor on this very file (same device and inode) is open: its path first, then each of
    /// `candidates` (rotated names). False when the file is nowhere to be found (deleted while closed).
    func ensureOpen(candidates: [String] = []) -> Bool {
        if descriptor != nil { return true }
        for candidate in [path] + candidates {
            guard let fd = try? TailedFile.open(candidate) else { continue }
            if let now = FileIdentity.of(descriptor: fd.rawValue), now.isSameFile(as: identity) {
                descriptor = fd
                path = candidate
                return true
            }
            try? fd.close()
        }
        return false
    }

    /// Hands over the complete lines appended since the last call, each with the offset just past its newline.
    ///
    /// A file now shorter than what was read was truncated in place (logrotate's `copytruncate`): reading starts
    /// again at 0 and everything in it is new. With `flush`, a trailing line without newline is returned too (the
    /// file will not grow any more: it was rotated away or deleted).
    func readLines(flush: Bool = false, _ body: (Substring, Int64) -> Void) throws(InotifyError) {
        guard let descriptor else { throw InotifyError(operation: "read", path: path, errno: .badFileDescriptor) }
        if let now = FileIdentity.of(descriptor: descriptor.rawValue) {
            if now.size < offset + Int64(partial.count) {
                offset = 0
                partial = []
                silentUntil = 0
                discardingFirstLine = false
            }
            identity = now
        }
        var data = partial
        partial = []
        var scanned = data.count
        var chunk = [UInt8](repeating: 0, count: TailedFile.chunkBytes)
        while true {
            let position = offset + Int64(data.count)
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { raw in
                    try descriptor.read(fromAbsoluteOffset: position, into: raw, retryOnInterrupt: true)
                }
            } catch let err as Errno {
                partial = data
                throw InotifyError(operation: "read", path: path, errno: err)
            } catch {
                partial = data
                throw InotifyError(operation: "read", path: path, errno: .ioError)
            }
            if count == 0 { break }
            bytesRead += Int64(count)
            data.append(contentsOf: chunk[0..<count])
            var start = 0
            var index = scanned
            while index < data.count {
                let isNewline = data[index] == UInt8(ascii: "\n")
                if isNewline || index - start >= TailedFile.maxLineBytes {
                    let lineEnd = isNewline ? index : index + 1
                    let end = offset + Int64(index + 1)
                    if discardingFirstLine {
                        discardingFirstLine = false
                    } else {
                        body(String(decoding: data[start..<lineEnd], as: UTF8.self)[...], end)
                    }
                    start = index + 1
                }
                index += 1
            }
            offset += Int64(start)
            data.removeFirst(start)
            scanned = data.count
        }
        if flush, !data.isEmpty {
            if !discardingFirstLine {
                body(String(decoding: data, as: UTF8.self)[...], offset + Int64(data.count))
            }
            offset += Int64(data.count)
            data = []
        }
        partial = data
    }

    /// What to persist for this file.
    var position: LogPositionStore.Position {
        LogPositionStore.Position(device: identity.device, inode: identity.inode, offset: offset)
    }
}
