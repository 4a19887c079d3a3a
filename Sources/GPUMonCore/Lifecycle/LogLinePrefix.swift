/// The timestamp prefix of a domain log line, split from the message.
///
/// Two clocks write to the same file, interleaved:
/// - libvirt (`virTimeStringThenRaw`): `2026-11-25 00:09:31.614+0000: shutting down, reason=destroyed`;
/// - QEMU, because libvirt passes `-msg timestamp=on`: `2026-11-25T00:09:30.412071Z qemu-system-x86_64: …`.
///
/// Lines with neither (the command line, `char device redirected to …`, QEMU errors printed before the option
/// took effect) have no prefix.
public struct LogLinePrefix: Sendable, Equatable {
    /// Who stamped the line.
    public enum Kind: Sendable, Equatable {
        case libvirt
        case qemu
    }

    /// `nil` when the line has no recognised timestamp.
    public let kind: Kind?
    /// The line after the timestamp and its separator; the whole line when there is no timestamp.
    public let message: Substring

    /// Splits `line`. Never fails: an unrecognised prefix leaves the whole line as the message.
    public init(_ line: Substring) {
        let bytes = Array(line.utf8.prefix(40))
        if let end = LogLinePrefix.libvirtEnd(bytes) {
            kind = .libvirt
            message = LogLinePrefix.drop(line, utf8Count: end)
        } else if let end = LogLinePrefix.qemuEnd(bytes) {
            kind = .qemu
            message = LogLinePrefix.drop(line, utf8Count: end)
        } else {
            kind = nil
            message = line
        }
    }

    public init(_ line: String) { self.init(line[...]) }

    private static func drop(_ line: Substring, utf8Count: Int) -> Substring {
        let index = line.utf8.index(line.utf8.startIndex, offsetBy: utf8Count)
        return line[index...]
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// `YYYY-MM-DD` followed by `separator` and `HH:MM:SS.`: true when `bytes` starts so.
    private static func dateTime(_ bytes: [UInt8], separator: UInt8) -> Bool {
        // Positions of digits and punctuation in "YYYY-MM-DD?HH:MM:SS."
        let shape: [UInt8?] = [
            nil, nil, nil, nil, UInt8(ascii: "-"), nil, nil, UInt8(ascii: "-"), nil, nil, separator,
            nil, nil, UInt8(ascii: ":"), nil, nil, UInt8(ascii: ":"), nil, nil, UInt8(ascii: "."),
        ]
        guard bytes.count > shape.count else { return false }
        for (i, expected) in shape.enumerated() {
            if let expected {
                if bytes[i] != expected { return false }
            } else if !isDigit(bytes[i]) {
                return false
            }
        }
        return true
    }

    /// libvirt: `YYYY-MM-DD HH:MM:SS.mmm+0000: ` (the offset is always +0000, but any ±HHMM is accepted).
    private static func libvirtEnd(_ bytes: [UInt8]) -> Int? {
        guard dateTime(bytes, separator: UInt8(ascii: " ")) else { return nil }
        var i = 20
        while i < bytes.count, isDigit(bytes[i]) { i += 1 }
        guard i > 20, i + 6 < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-"),
            bytes[(i + 1)...(i + 4)].allSatisfy(isDigit), bytes[i + 5] == UInt8(ascii: ":")
        else { return nil }
        i += 6
        if i < bytes.count, bytes[i] == UInt8(ascii: " ") { i += 1 }
        return i
    }

    /// QEMU: `YYYY-MM-DDTHH:MM:SS.ffffffZ `.
    private static func qemuEnd(_ bytes: [UInt8]) -> Int? {
        guard dateTime(bytes, separator: UInt8(ascii: "T")) else { return nil }
        var i = 20
        while i < bytes.count, isDigit(bytes[i]) { i += 1 }
        guard i > 20, i < bytes.count, bytes[i] == UInt8(ascii: "Z") else { return nil }
        i += 1
        if i < bytes.count, bytes[i] == UInt8(ascii: " ") { i += 1 }
        return i
    }
}
