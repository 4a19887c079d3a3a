public import SystemPackage

/// A failed inotify or file call while following domain logs: the call, the path and the errno.
public struct InotifyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `inotify_init1`, `inotify_add_watch`, `read`, `open`, `fstat`…
    public let operation: String
    /// The path concerned; empty for calls on the inotify descriptor itself.
    public let path: String
    public let errno: Errno

    public init(operation: String, path: String, errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        path.isEmpty
            ? "\(operation): \(errno.description) (errno \(errno.rawValue))"
            : "\(operation) \(path): \(errno.description) (errno \(errno.rawValue))"
    }
}
