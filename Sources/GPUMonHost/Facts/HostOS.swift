/// The distribution, from `/etc/os-release` (`os-release(5)`).
public struct HostOS: Sendable, Equatable, Codable {
    /// `ID`: `ubuntu`, `debian`, `rocky`, `rhel`, `almalinux`.
    public var id: String
    /// `VERSION_ID`: `22.04`, `12`, `9.4`; empty when absent (Debian testing).
    public var versionID: String
    /// `PRETTY_NAME`, for messages.
    public var prettyName: String
    public var family: OSFamily

    public init(id: String, versionID: String, prettyName: String, family: OSFamily) {
        self.id = id
        self.versionID = versionID
        self.prettyName = prettyName
        self.family = family
    }

    /// The major version (`9` of `9.4`), or `nil` when `VERSION_ID` does not start with a number.
    public var majorVersion: Int? { Int(versionID.prefix(while: \.isNumber)) }

    /// The directory under `/boot/efi/EFI/` that holds this distribution's GRUB on UEFI machines.
    public var efiDirectory: String {
        switch id {
        case "rhel": return "redhat"
        default: return id
        }
    }

    /// Parses the text of an os-release file.
    ///
    /// - Throws: ``HostError/unsupportedDistribution(id:name:)`` unless `ID` (or `ID_LIKE`) names Debian, Ubuntu
    ///   or a Red Hat Enterprise Linux rebuild.
    public static func parse(osRelease text: String) throws(HostError) -> HostOS {
        let fields = parseFields(text)
        let id = fields["ID"] ?? ""
        let like = (fields["ID_LIKE"] ?? "").split(separator: " ").map(String.init)
        let pretty = fields["PRETTY_NAME"] ?? fields["NAME"] ?? id
        let family: OSFamily
        switch id {
        case "ubuntu", "debian": family = .debian
        case "rocky", "rhel", "almalinux", "centos": family = .rhel
        default:
            // Derivatives (Pop!_OS, Oracle Linux…) say whose tooling they use in ID_LIKE.
            if like.contains("debian") || like.contains("ubuntu") {
                family = .debian
            } else if like.contains("rhel") {
                family = .rhel
            } else {
                throw .unsupportedDistribution(id: id, name: pretty)
            }
        }
        return HostOS(id: id, versionID: fields["VERSION_ID"] ?? "", prettyName: pretty, family: family)
    }

    /// `KEY=value` lines; values may be double- or single-quoted with backslash escapes (os-release(5)).
    static func parseFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.trimmingCharacters(in: " \t\r")
            guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            var value = Substring(line[line.index(after: eq)...])
            if let quote = value.first, quote == "\"" || quote == "'" {
                value = value.dropFirst()
                if value.last == quote { value = value.dropLast() }
            }
            var unescaped = ""
            var escaping = false
            for ch in value {
                if escaping {
                    unescaped.append(ch)
                    escaping = false
                } else if ch == "\\" {
                    escaping = true
                } else {
                    unescaped.append(ch)
                }
            }
            fields[key] = unescaped
        }
        return fields
    }
}

extension StringProtocol {
    /// The text without leading and trailing characters from `set`.
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        guard let start = firstIndex(where: { !chars.contains($0) }),
            let end = lastIndex(where: { !chars.contains($0) })
        else { return "" }
        return String(self[start...end])
    }
}
