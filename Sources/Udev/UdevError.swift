public import SystemPackage

/// A failed libudev call: which call, and the errno it left.
public struct UdevError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The C function that failed, e.g. `udev_monitor_enable_receiving`.
    public let operation: String
    public let errno: Errno

    public init(operation: String, errno: Errno) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "\(operation): \(errno.description) (errno \(errno.rawValue))" }
}
