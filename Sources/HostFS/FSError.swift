public import SystemPackage

/// An error from reading or writing a file under a ``FileTree``: the operation, the full path and the errno.
///
/// The kernel's errnos are mapped to a ``Code`` once, here, so callers switch on meaning rather than numbers:
/// `ENOENT`/`ENODEV` on a sysfs attribute after hot-unplug is ``Code/deviceGone``, `EINVAL` on a write is
/// ``Code/rejected``.
public struct FSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What an errno means to gpumon.
    public enum Code: String, Sendable {
        case notFound
        case permissionDenied
        case deviceGone
        case rejected
        case busy
        case notSupported
        case io
    }

    public var code: Code
    /// The operation that failed: `open`, `read`, `write`, `readlink`, `opendir`, `rename`…
    public var operation: String
    /// The full path (root included), as the operator would type it.
    public var path: String
    public var errno: Errno

    public init(operation: String, path: String, errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.code = FSError.code(for: errno)
    }

    public var description: String { "\(operation) \(path): \(errno.description) (errno \(errno.rawValue))" }

    static func code(for errno: Errno) -> Code {
        switch errno {
        case .noSuchFileOrDirectory, .notDirectory: return .notFound
        case .permissionDenied, .notPermitted, .readOnlyFileSystem: return .permissionDenied
        case .operationNotSupportedByDevice, .noSuchAddressOrDevice: return .deviceGone
        case .invalidArgument, .fileExists: return .rejected
        case .resourceBusy, .resourceTemporarilyUnavailable: return .busy
        case .inappropriateIOCTLForDevice, .notSupported: return .notSupported
        default: return .io
        }
    }
}
