/// A sysfs attribute that exists but does not hold what the kernel documents (a truncated or odd tree).
public struct SysfsFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The full path of the attribute.
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}
