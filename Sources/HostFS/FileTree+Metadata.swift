#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import SystemPackage

/// What `stat(2)` says about a file that matters when replacing it: its permission bits (kept on the new file and
/// the backup) and its modification time (to tell whether an initramfs is older than the config it should hold).
public struct FileMetadata: Sendable, Equatable {
    /// The permission bits (`st_mode & 07777`).
    public var permissions: FilePermissions
    /// Seconds since the epoch of the last modification (`st_mtime`).
    public var modificationTime: Int
    /// Whether the path is a regular file.
    public var isRegularFile: Bool

    public init(permissions: FilePermissions, modificationTime: Int, isRegularFile: Bool) {
        self.permissions = permissions
        self.modificationTime = modificationTime
        self.isRegularFile = isRegularFile
    }
}

extension FileTree {
    /// The metadata of `relative` (following links), or `nil` when it does not exist.
    ///
    /// The corresponding C function is `stat`.
    public func metadata(_ relative: String) throws(FSError) -> FileMetadata? {
        let full = path(relative)
        var info = stat()
        while stat(full, &info) != 0 {
            let err = Errno(rawValue: errno)
            if err == .interrupted { continue }
            if FSError.code(for: err) == .notFound { return nil }
            throw FSError(operation: "stat", path: full, errno: err)
        }
        #if canImport(Darwin)
        let seconds = Int(info.st_mtimespec.tv_sec)
        #else
        let seconds = Int(info.st_mtim.tv_sec)
        #endif
        return FileMetadata(
            permissions: FilePermissions(rawValue: CModeT(info.st_mode & 0o7777)),
            modificationTime: seconds,
            isRegularFile: (info.st_mode & S_IFMT) == S_IFREG
        )
    }
}
