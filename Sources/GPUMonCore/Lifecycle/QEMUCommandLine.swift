/// Finds the host functions a QEMU command line passes through with vfio-pci.
///
/// libvirt writes the command line into the domain log in one of these forms, all accepted:
/// - libvirt ≥ 7 (JSON `-device`, one argument per line):
///   `-device '{"driver":"vfio-pci","host":"0000:01:00.0","id":"hostdev0","bus":"pci.5","addr":"0x0"}' \`
/// - older libvirt (key=value, often the whole command line on one line):
///   `-device vfio-pci,host=0000:01:00.0,id=hostdev0,bus=pci.5,addr=0x0` or `host=01:00.0`;
/// - either form may name the function by `sysfsdev=/sys/bus/pci/devices/0000:01:00.0` instead of `host`.
public enum QEMUCommandLine {
    /// Every vfio-pci host function on `line`, in order, without duplicates.
    public static func vfioHosts(in line: Substring) -> [PCIAddress] {
        guard line.contains("vfio-pci") else { return [] }
        var found: [PCIAddress] = []
        func add(_ address: PCIAddress?) {
            if let address, !found.contains(address) { found.append(address) }
        }
        for object in jsonObjects(in: line) where jsonString("driver", in: object) == "vfio-pci" {
            add(address(host: jsonString("host", in: object), sysfsdev: jsonString("sysfsdev", in: object)))
        }
        for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let trimmed = token.trimmingQuotes
            guard !trimmed.hasPrefix("{") else { continue }
            let options = trimmed.split(separator: ",")
            guard let first = options.first, first == "vfio-pci" || options.contains("driver=vfio-pci") else {
                continue
            }
            var host: Substring?
            var sysfsdev: Substring?
            for option in options {
                if option.hasPrefix("host=") { host = option.dropFirst(5) }
                if option.hasPrefix("sysfsdev=") { sysfsdev = option.dropFirst(9) }
            }
            add(address(host: host, sysfsdev: sysfsdev))
        }
        return found
    }

    public static func vfioHosts(in line: String) -> [PCIAddress] { vfioHosts(in: line[...]) }

    private static func address(host: Substring?, sysfsdev: Substring?) -> PCIAddress? {
        if let host, let parsed = PCIAddress(String(host)) { return parsed }
        if let sysfsdev, let last = sysfsdev.split(separator: "/").last { return PCIAddress(String(last)) }
        return nil
    }

    /// The top-level `{…}` objects on a line, braces inside JSON strings ignored.
    static func jsonObjects(in line: Substring) -> [Substring] {
        var objects: [Substring] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start = line.startIndex
        for index in line.indices {
            let c = line[index]
            if inString {
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    inString = false
                }
                continue
            }
            switch c {
            case "\"" where depth > 0: inString = true
            case "{":
                if depth == 0 { start = index }
                depth += 1
            case "}" where depth > 0:
                depth -= 1
                if depth == 0 { objects.append(line[start...index]) }
            default: break
            }
        }
        return objects
    }

    /// The string value of `"key":"value"` in a flat JSON object (whitespace around `:` allowed), or `nil`.
    static func jsonString(_ key: String, in object: Substring) -> Substring? {
        let needle = "\"" + key + "\""
        var rest = object[...]
        while let range = rest.firstRange(of: needle) {
            var after = rest[range.upperBound...].drop(while: { $0 == " " })
            // A value that happens to equal the key is followed by `,` or `}`, not `:`.
            guard after.first == ":" else {
                rest = rest[range.upperBound...]
                continue
            }
            after = after.dropFirst().drop(while: { $0 == " " })
            guard after.first == "\"" else { return nil }
            let value = after.dropFirst()
            guard let end = value.firstIndex(of: "\"") else { return nil }
            return value[..<end]
        }
        return nil
    }
}

extension QEMUCommandLine {
    /// The libvirt domain from QEMU's argument vector (`/proc/<pid>/cmdline`): `-name guest=<domain>,debug-threads=on`
    /// (libvirt ≥ 1.2.7) or `-name <domain>`. A `,,` in the value is QEMU's escaped comma.
    public static func guestName(arguments: [String]) -> String? {
        guard let index = arguments.firstIndex(of: "-name"), index + 1 < arguments.count else { return nil }
        var value = Substring(arguments[index + 1])
        if value.hasPrefix("guest=") { value = value.dropFirst(6) } else if value.contains("=") { return nil }
        var name = ""
        var rest = value[...]
        while let comma = rest.firstIndex(of: ",") {
            name += rest[..<comma]
            let after = rest.index(after: comma)
            guard after < rest.endIndex, rest[after] == "," else { rest = rest[rest.endIndex...]; break }
            name += ","
            rest = rest[rest.index(after: after)...]
        }
        name += rest
        return name.isEmpty ? nil : name
    }
}

extension Substring {
    /// Without the shell quotes libvirt puts around arguments (`'…'`, `"…"`) or a trailing continuation `\`.
    fileprivate var trimmingQuotes: Substring {
        var s = self
        while let last = s.last, last == "\\" || last == "'" || last == "\"" { s = s.dropLast() }
        while let first = s.first, first == "'" || first == "\"" { s = s.dropFirst() }
        return s
    }
}
