public import SystemPackage

/// A file hierarchy under an injectable root.
///
/// Production code reads `/sys`, `/etc` and `/proc` through a `FileTree` whose root is the real directory; tests
/// point the same code at a temporary tree laid out the same way. Paths passed to the methods are relative to the
/// root (`"bus/pci/devices"`), never absolute, so no code outside this type spells `/sys/…`.
public struct FileTree: Sendable, Hashable, CustomStringConvertible {
    /// The absolute path of the root, without a trailing slash (except for `/` itself).
    public let root: String

    public init(root: String) {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed.isEmpty ? "/" : trimmed
    }

    public var description: String { root }

    /// The absolute path of `relative` under the root.
    public func path(_ relative: String) -> String {
        let rel = relative.drop(while: { $0 == "/" })
        if rel.isEmpty { return root }
        return root == "/" ? "/" + rel : root + "/" + rel
    }

    /// A tree rooted at a subdirectory of this one.
    public func subtree(_ relative: String) -> FileTree { FileTree(root: path(relative)) }

    // MARK: - Reading

    /// Reads a whole file as UTF-8 text with one trailing newline removed, or `nil` when it does not exist.
    ///
    /// - Parameter maxBytes: sysfs attributes are at most a page; a larger file is cut there rather than read on.
    /// - Throws: ``FSError`` for any failure other than the file being absent.
    public func readString(_ relative: String, maxBytes: Int = 1 << 20) throws(FSError) -> String? {
        guard let bytes = try readBytes(relative, maxBytes: maxBytes) else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// Reads at most `maxBytes` bytes of a file, or `nil` when it does not exist.
    public func readBytes(_ relative: String, maxBytes: Int) throws(FSError) -> [UInt8]? {
        let full = path(relative)
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(full, .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
        } catch let err as Errno {
            if FSError.code(for: err) == .notFound { return nil }
            throw FSError(operation: "open", path: full, errno: err)
        } catch {
            throw FSError(operation: "open", path: full, errno: .ioError)
        }
        defer { try? fd.close() }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(maxBytes, 65536))
        while result.count < maxBytes {
            let want = min(chunk.count, maxBytes - result.count)
            let got: Int
            do {
                got = try chunk.withUnsafeMutableBytes { raw in
                    try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), retryOnInterrupt: true)
                }
            } catch let err as Errno {
                throw FSError(operation: "read", path: full, errno: err)
            } catch {
                throw FSError(operation: "read", path: full, errno: .ioError)
            }
            if got == 0 { break }
            result.append(contentsOf: chunk[0..<got])
        }
        return result
    }

    /// The target of a symbolic link, or `nil` when the link does not exist.
    public func readLink(_ relative: String) throws(FSError) -> String? {
        let full = path(relative)
        switch systemReadLink(full) {
        case .success(let target): return target
        case .failure(let err):
            if FSError.code(for: err) == .notFound { return nil }
            throw FSError(operation: "readlink", path: full, errno: err)
        }
    }

    /// The last path component of a symbolic link's target (`driver` → `vfio-pci`), or `nil` when absent.
    public func readLinkName(_ relative: String) throws(FSError) -> String? {
        guard let target = try readLink(relative) else { return nil }
        return target.split(separator: "/").last.map(String.init)
    }

    /// The names in a directory, sorted, without `.` and `..`; `nil` when the directory does not exist.
    public func list(_ relative: String) throws(FSError) -> [String]? {
        let full = path(relative)
        switch systemListDirectory(full) {
        case .success(let names): return names
        case .failure(let err):
            if FSError.code(for: err) == .notFound { return nil }
            throw FSError(operation: "opendir", path: full, errno: err)
        }
    }

    /// The canonical path of `relative` relative to this root (symlinks resolved), or `nil` when it does not
    /// exist or resolves outside the root.
    public func canonicalPath(_ relative: String) throws(FSError) -> String? {
        let full = path(relative)
        switch systemRealPath(full) {
        case .success(let resolved):
            let rootReal: String
            switch systemRealPath(root) {
            case .success(let r): rootReal = r
            case .failure(let err): throw FSError(operation: "realpath", path: root, errno: err)
            }
            if rootReal == "/" { return String(resolved.dropFirst()) }
            guard resolved == rootReal || resolved.hasPrefix(rootReal + "/") else { return nil }
            return String(resolved.dropFirst(rootReal.count).drop(while: { $0 == "/" }))
        case .failure(let err):
            if FSError.code(for: err) == .notFound { return nil }
            throw FSError(operation: "realpath", path: full, errno: err)
        }
    }

    /// Whether anything (a file, directory or link, even a dangling one) exists at `relative`.
    public func exists(_ relative: String) -> Bool { systemExists(path(relative)) }

    /// Whether `relative` is a directory (following links).
    public func isDirectory(_ relative: String) -> Bool { systemIsDirectory(path(relative)) }

    // MARK: - Writing

    /// Writes `value` to an existing file in one `write(2)`, the way sysfs attributes expect: no create, no
    /// truncate, no temporary file.
    ///
    /// - Throws: ``FSError`` whose ``FSError/code`` says whether the kernel rejected the value (`EINVAL`),
    ///   the device is gone (`ENODEV`), or the operation is unsupported (`ENOTTY`).
    public func writeAttribute(_ value: String, to relative: String) throws(FSError) {
        let full = path(relative)
        do {
            let fd = try FileDescriptor.open(full, .writeOnly, options: [.closeOnExec], retryOnInterrupt: true)
            try fd.closeAfter {
                // One write call: sysfs store functions see exactly the bytes of one write.
                let written = try fd.writeAll(Array(value.utf8))
                _ = written
            }
        } catch let err as Errno {
            throw FSError(operation: "write", path: full, errno: err)
        } catch {
            throw FSError(operation: "write", path: full, errno: .ioError)
        }
    }

    /// Replaces a regular file atomically: writes a temporary file beside it, fsyncs it, renames it into place,
    /// fsyncs the directory. Readers see either the old or the new contents, never a half-written file.
    ///
    /// Safe in a directory others can write to or plant links in (a node_exporter textfile directory, a state
    /// directory restored from a backup): the temporary file has a random name and is created with
    /// `O_CREAT|O_EXCL|O_NOFOLLOW`, so a planted file or symlink is never opened or followed, and `rename(2)`
    /// replaces a symlink at the target instead of writing through it. The file ends with exactly `permissions`
    /// whatever the process's umask (the unit's `UMask=0077` would otherwise make a textfile unreadable to
    /// node_exporter).
    public func writeFileAtomically(_ contents: String, to relative: String, permissions: FilePermissions = [
        .ownerReadWrite, .groupRead, .otherRead,
    ]) throws(FSError) {
        try writeFileAtomically(bytes: Array(contents.utf8), to: relative, permissions: permissions)
    }

    /// Replaces a regular file atomically with raw bytes; see ``writeFileAtomically(_:to:permissions:)``.
    public func writeFileAtomically(bytes contents: [UInt8], to relative: String, permissions: FilePermissions = [
        .ownerReadWrite, .groupRead, .otherRead,
    ]) throws(FSError) {
        let full = path(relative)
        let slash = full.lastIndex(of: "/")
        let directory = slash.map { $0 == full.startIndex ? "/" : String(full[..<$0]) } ?? "."
        let name = slash.map { String(full[full.index(after: $0)...]) } ?? full
        var fd: FileDescriptor?
        var temp = ""
        // A name already taken (a planted file, a leftover) is skipped, never reused.
        for _ in 0..<16 where fd == nil {
            temp = (directory == "/" ? "" : directory) + "/.\(name).gpumon-tmp-\(systemProcessID())-"
                + String(UInt64.random(in: 0...UInt64.max), radix: 36)
            do {
                fd = try FileDescriptor.open(temp, .writeOnly, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                    permissions: permissions, retryOnInterrupt: true)
            } catch let err as Errno {
                if err == .fileExists { continue }
                throw FSError(operation: "create", path: temp, errno: err)
            } catch {
                throw FSError(operation: "create", path: temp, errno: .ioError)
            }
        }
        guard let fd else { throw FSError(operation: "create", path: temp, errno: .fileExists) }
        do {
            try fd.closeAfter {
                // The umask applied at create; the mode asked for is the mode wanted.
                if case .failure(let err) = systemFchmod(fd, mode: permissions.rawValue) { throw err }
                _ = try fd.writeAll(contents)
                if case .failure(let err) = systemFsync(fd) { throw err }
            }
        } catch let err as Errno {
            _ = systemUnlink(temp)
            throw FSError(operation: "write", path: temp, errno: err)
        } catch {
            _ = systemUnlink(temp)
            throw FSError(operation: "write", path: temp, errno: .ioError)
        }
        if case .failure(let err) = systemRename(temp, full) {
            _ = systemUnlink(temp)
            throw FSError(operation: "rename", path: full, errno: err)
        }
        // The rename is durable only once the directory is: a crash right after must not bring back old state.
        if case .failure(let err) = systemFsyncDirectory(directory) {
            throw FSError(operation: "fsync", path: directory, errno: err)
        }
    }

    /// Creates a directory and any missing parents; an existing directory is fine.
    public func createDirectory(_ relative: String, mode: UInt32 = 0o755) throws(FSError) {
        var built = ""
        for component in relative.split(separator: "/") {
            built += (built.isEmpty ? "" : "/") + component
            let full = path(built)
            if systemIsDirectory(full) { continue }
            if case .failure(let err) = systemMakeDirectory(full, mode: mode), err != .fileExists {
                throw FSError(operation: "mkdir", path: full, errno: err)
            }
        }
    }

    /// Creates a symbolic link at `relative` pointing at `target` (stored verbatim, relative or absolute).
    public func createSymlink(_ relative: String, target: String) throws(FSError) {
        let full = path(relative)
        if case .failure(let err) = systemSymlink(target: target, at: full) {
            throw FSError(operation: "symlink", path: full, errno: err)
        }
    }

    /// Removes a file or link; an absent one is fine.
    public func removeFile(_ relative: String) throws(FSError) {
        let full = path(relative)
        if case .failure(let err) = systemUnlink(full), FSError.code(for: err) != .notFound {
            throw FSError(operation: "unlink", path: full, errno: err)
        }
    }
}
