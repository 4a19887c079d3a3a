import SystemPackage

/// One open domain log being followed: its descriptor, identity and how far it has been read.
///
/// Reading always continues from ``offset`` (the byte after the last complete line) plus the buffered partial
/// line, with `pread`, so the descriptor has no position to get wrong. The descriptor is kept open after a
/// rename or unlink: that is how the rest of a rotated file is still read.
final class TailedFile {
    /// A line longer than this without a newline is cut and treated as complete.
    static let maxLineBytes = 1 << 20

    let path: String
    /// The tracker this file feeds: the `.log` path, shared with its rotated siblings (`….log.0`).
    let key: String
    let domain: String
    private let descriptor: FileDescriptor
    private(set) var identity: FileIdentity
    /// The byte after the last complete line read.
    private(set) var offset: Int64 = 0
    private var partial: [UInt8] = []
    /// Lines ending at or before this offset were written before gpumon's responsibility began: they update the
    /// tracker but are not reported.
    private(set) var silentUntil: Int64

    /// Opens `path` for reading from its start.
    init(path: String, key: String, domain: String, silentUntil: Int64) throws(InotifyError) {
        do {
            descriptor = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
        } catch let err as Errno {
            throw InotifyError(operation: "open", path: path, errno: err)
        } catch {
            throw InotifyError(operation: "open", path: path, errno: .ioError)
        }
        guard let identity = FileIdentity.of(descriptor: descriptor.rawValue) else {
            try? descriptor.close()
            throw InotifyError(operation: "fstat", path: path, errno: .ioError)
        }
        self.path = path
        self.key = key
        self.domain = domain
        self.identity = identity
        self.silentUntil = silentUntil
    }

    deinit { try? descriptor.close() }

    /// The complete lines appended since the last call, each with the offset just past its newline.
    ///
    /// A file now shorter than what was read was truncated in place (logrotate's `copytruncate`): reading starts
    /// again at 0 and everything in it is new. With `flush`, a trailing line without newline is returned too (the
    /// file will not grow any more: it was rotated away or deleted).
    func readLines(flush: Bool = false) throws(InotifyError) -> [(line: Substring, end: Int64)] {
        if let now = FileIdentity.of(descriptor: descriptor.rawValue) {
            if now.size < offset + Int64(partial.count) {
                offset = 0
                partial = []
                silentUntil = 0
            }
            identity = now
        }
        var data = partial
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let position = offset + Int64(data.count)
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { raw in
                    try descriptor.read(fromAbsoluteOffset: position, into: raw, retryOnInterrupt: true)
                }
            } catch let err as Errno {
                throw InotifyError(operation: "read", path: path, errno: err)
            } catch {
                throw InotifyError(operation: "read", path: path, errno: .ioError)
            }
            if count == 0 { break }
            data.append(contentsOf: chunk[0..<count])
        }
        var lines: [(line: Substring, end: Int64)] = []
        var start = 0
        for index in data.indices where data[index] == UInt8(ascii: "\n") || index - start >= TailedFile.maxLineBytes {
            let isNewline = data[index] == UInt8(ascii: "\n")
            let lineEnd = isNewline ? index : index + 1
            let text = String(decoding: data[start..<lineEnd], as: UTF8.self)
            start = index + 1
            lines.append((text[...], offset + Int64(start)))
        }
        if flush, start < data.count {
            lines.append((String(decoding: data[start...], as: UTF8.self)[...], offset + Int64(data.count)))
            start = data.count
        }
        offset += Int64(start)
        partial = Array(data[start...])
        return lines
    }

    /// What to persist for this file.
    var position: LogPositionStore.Position {
        LogPositionStore.Position(device: identity.device, inode: identity.inode, offset: offset)
    }
}
