/// A device directory that could not be read or made sense of. Status lists these instead of failing as a whole:
/// one odd device must not hide the others.
public struct SysfsProblem: Hashable, Sendable, CustomStringConvertible {
    /// The sysfs path (root included) that was odd.
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
