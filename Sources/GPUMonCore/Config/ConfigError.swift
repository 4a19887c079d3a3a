/// A config that cannot be used, with the file, line and key it is about. Printed as one line:
/// `gpumon.toml:7: gpu[0].ids[1]: invalid PCI ID "10de-2204": …`.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let file: String
    /// 1-based line; 0 when the problem is about the file as a whole.
    public let line: Int
    /// The key path (`daemon.target_driver`, `gpu[1].ids[0]`); empty for file-level problems.
    public let key: String
    public let message: String

    public init(file: String, line: Int, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = file
        if line > 0 { text += ":\(line)" }
        text += ": "
        if !key.isEmpty { text += "\(key): " }
        return text + message
    }
}
