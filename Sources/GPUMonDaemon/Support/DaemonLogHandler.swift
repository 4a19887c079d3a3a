public import Logging
import Systemd

#if canImport(Glibc)
import Glibc
#endif

/// Logs to the journal with structured fields when stderr is connected to it (running under systemd), and as
/// plain `LEVEL message key=value…` lines on stderr otherwise.
public struct DaemonLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let structured: Bool

    public init(label: String, level: Logger.Level, structured: Bool? = nil) {
        self.label = label
        self.logLevel = level
        self.structured = structured ?? Journal.isConnected
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        if structured {
            var fields: [(String, String)] = [
                ("MESSAGE", "\(event.message)"),
                ("PRIORITY", String(DaemonLogHandler.syslogPriority(event.level))),
                ("SYSLOG_IDENTIFIER", "gpumon"),
            ]
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                if key == LogKey.messageID {
                    fields.append(("MESSAGE_ID", "\(value)"))
                } else {
                    fields.append((DaemonLogHandler.journalField(key), "\(value)"))
                }
            }
            if Journal.send(fields) { return }
        }
        var line = "\(event.level.rawValue.uppercased()) \(event.message)"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) where key != LogKey.messageID {
            let text = "\(value)"
            line += text.contains(" ") ? " \(key)=\"\(text)\"" : " \(key)=\(text)"
        }
        line += "\n"
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// `device` → `GPUMON_DEVICE`: journald field names are upper-case letters, digits and `_`.
    static func journalField(_ key: String) -> String {
        "GPUMON_" + String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }
}
