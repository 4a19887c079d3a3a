/// Turns the lines of one libvirt domain log (`/var/log/libvirt/qemu/<domain>.log`) into ``DomainLogEvent``s.
///
/// Feed it complete lines, without the newline, in file order. It keeps only the state of an unfinished
/// `starting up` block: libvirt writes the header line, then the environment and the QEMU command line, one
/// argument per line ending in ` \` (libvirt ≥ 7) or all on one line (older libvirt). The block ends at the first
/// line that does not end in `\`, or at the next timestamped line; ``DomainLogEvent/started(_:)`` is emitted
/// then, with every vfio-pci host function of the command line.
///
/// ```
/// 2026-11-25 00:09:25.943+0000: starting up libvirt version: 9.0.0, …
/// LC_ALL=C \
/// …
/// -device '{"driver":"vfio-pci","host":"0000:01:00.0","id":"hostdev0","bus":"pci.5","addr":"0x0"}' \
/// -msg timestamp=on
/// 2026-11-25T00:09:30.412071Z qemu-system-x86_64: terminating on signal 15 from pid 6955 (libvirtd)
/// 2026-11-25 00:09:31.614+0000: shutting down, reason=destroyed
/// ```
public struct DomainLogParser: Sendable {
    /// The addresses collected so far while inside a `starting up` block; `nil` outside one.
    private var pendingStart: [PCIAddress]?

    public init() {}

    /// The domain a log file belongs to: its name without `.log` (`instance-0000001a.log` → `instance-0000001a`);
    /// `nil` for any other name (rotated `…log.0`, hidden files).
    public static func domain(forFileName name: String) -> String? {
        guard name.hasSuffix(".log"), !name.hasPrefix("."), name.count > 4 else { return nil }
        return String(name.dropLast(4))
    }

    /// Whether a `starting up` block is open (its command line not finished yet).
    public var isInsideStartBlock: Bool { pendingStart != nil }

    /// The events `line` completes: usually none or one; two when a timestamped line both ends an open block and
    /// means something itself.
    public mutating func feed(_ line: Substring) -> [DomainLogEvent] {
        var line = line
        if line.last == "\r" { line = line.dropLast() }
        let prefix = LogLinePrefix(line)
        var events: [DomainLogEvent] = []
        if var collected = pendingStart {
            if prefix.kind == nil {
                for address in QEMUCommandLine.vfioHosts(in: line) where !collected.contains(address) {
                    collected.append(address)
                }
                if line.trimmingTrailingSpaces.hasSuffix("\\") {
                    pendingStart = collected
                    return []
                }
                pendingStart = nil
                return [.started(collected)]
            }
            // A timestamped line right after the header: libvirt wrote no command line (or we lost it).
            pendingStart = nil
            events.append(.started(collected))
        }
        let message = prefix.message
        if prefix.kind == .libvirt, message.hasPrefix("starting up") {
            pendingStart = []
        } else if prefix.kind == .libvirt, message.hasPrefix("shutting down") {
            events.append(.stopped(reason: DomainLogParser.reason(in: message)))
        } else if VFIOErrorMatcher.isError(message) {
            events.append(.error(String(line)))
        }
        return events
    }

    public mutating func feed(_ line: String) -> [DomainLogEvent] { feed(line[...]) }

    /// `reason=destroyed` → `destroyed`.
    private static func reason(in message: Substring) -> String? {
        guard let range = message.firstRange(of: "reason=") else { return nil }
        let value = message[range.upperBound...].prefix(while: { $0 != " " && $0 != "," })
        return value.isEmpty ? nil : String(value)
    }
}

extension Substring {
    fileprivate var trimmingTrailingSpaces: Substring {
        var s = self
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}
