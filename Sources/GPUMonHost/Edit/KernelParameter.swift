/// One thing the kernel command line must say, and how to make it say so without disturbing anything else.
///
/// The kernel compares parameter names with `-` and `_` as equal (`parameq` in `kernel/params.c`), and when a
/// parameter appears twice the later one wins; both rules are applied here.
public enum KernelParameter: Sendable, Equatable, CustomStringConvertible {
    /// `key=on`, or any value whose comma-separated parts include `on` (`intel_iommu=on,sm_on`). A value
    /// without `on` (`intel_iommu=off`) is replaced.
    case enabled(String)
    /// `key=value` exactly; for comma lists, the same items in any order (`vfio-pci.ids=`). Another value is
    /// replaced.
    case exact(String, [String])
    /// A comma list that must include `items` (`modprobe.blacklist=`); missing items are added to the existing
    /// list, which keeps the items already there.
    case includes(String, [String])

    /// The parameter name as written (`intel_iommu`).
    public var key: String {
        switch self {
        case .enabled(let key), .exact(let key, _), .includes(let key, _): return key
        }
    }

    /// The token gpumon writes when the parameter is absent.
    public var token: String {
        switch self {
        case .enabled(let key): return "\(key)=on"
        case .exact(let key, let items), .includes(let key, let items): return "\(key)=\(items.joined(separator: ","))"
        }
    }

    public var description: String { token }

    /// Whether a command line (as tokens, in order) already satisfies this parameter.
    public func isSatisfied(by tokens: [String]) -> Bool {
        let values = KernelParameter.values(of: key, in: tokens)
        switch self {
        case .enabled:
            guard let last = values.last else { return false }
            return KernelParameter.items(last).contains("on")
        case .exact(_, let items):
            guard let last = values.last else { return false }
            return Set(KernelParameter.items(last)) == Set(items)
        case .includes(_, let items):
            let present = Set(values.flatMap(KernelParameter.items))
            return items.allSatisfy(present.contains)
        }
    }

    /// Edits `primary` (and, when it holds a later conflicting value, `secondary`) so the parameter is
    /// satisfied by `primary + secondary`; an already satisfied line is returned unchanged.
    ///
    /// The first occurrence in `primary` is rewritten in place (so the options keep their order), later ones
    /// are dropped rather than duplicated, and occurrences in `secondary` are dropped because they come later on
    /// the final command line and would override `primary`.
    public func apply(primary: [String], secondary: [String] = []) -> (primary: [String], secondary: [String]) {
        if isSatisfied(by: primary + secondary) { return (primary, secondary) }
        let existing = KernelParameter.values(of: key, in: primary + secondary)
        let firstIndex = primary.firstIndex { KernelParameter.matches($0, key: key) }
        let writtenKey = firstIndex.map { KernelParameter.name(of: primary[$0]) } ?? key
        let newToken: String
        switch self {
        case .enabled:
            newToken = "\(writtenKey)=on"
        case .exact(_, let items):
            newToken = "\(writtenKey)=\(items.joined(separator: ","))"
        case .includes(_, let items):
            var merged: [String] = []
            for item in existing.flatMap(KernelParameter.items) + items where !merged.contains(item) {
                merged.append(item)
            }
            newToken = "\(writtenKey)=\(merged.joined(separator: ","))"
        }
        var newPrimary: [String] = []
        for (index, token) in primary.enumerated() {
            if index == firstIndex {
                newPrimary.append(newToken)
            } else if !KernelParameter.matches(token, key: key) {
                newPrimary.append(token)
            }
        }
        if firstIndex == nil { newPrimary.append(newToken) }
        let newSecondary = secondary.filter { !KernelParameter.matches($0, key: key) }
        return (newPrimary, newSecondary)
    }

    // MARK: - Tokens

    /// The name part of `key=value` (the whole token for a bare flag).
    static func name(of token: String) -> String {
        token.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? token
    }

    static func matches(_ token: String, key: String) -> Bool {
        KernelModules.normalize(name(of: token)) == KernelModules.normalize(key)
    }

    /// The values of every `key=value` occurrence, in order; a bare `key` counts as an empty value.
    static func values(of key: String, in tokens: [String]) -> [String] {
        tokens.filter { matches($0, key: key) }.map { token in
            let parts = token.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            var value = parts.count == 2 ? String(parts[1]) : ""
            if value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            return value
        }
    }

    static func items(_ value: String) -> [String] {
        value.split(separator: ",").map(String.init)
    }

    /// Splits a command line into tokens at blanks; a double-quoted stretch (`param="a b"`) stays one token.
    public static func tokenize(_ line: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var quoted = false
        for ch in line {
            if ch == "\"" { quoted.toggle() }
            if !quoted && (ch == " " || ch == "\t" || ch == "\n") {
                if !current.isEmpty { tokens.append(current) }
                current = ""
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }
}
