/// `/etc/default/grub`, edited line by line: only the `GRUB_CMDLINE_LINUX` assignment (and, for a conflicting
/// value, `GRUB_CMDLINE_LINUX_DEFAULT`) changes; comments, other variables and the other options on the line stay
/// as they were, and so does the quoting style.
///
/// The file is a shell fragment that `grub-mkconfig` sources. The last assignment of a variable wins, so that is
/// the one read and edited.
public struct GrubDefaults: Sendable, Equatable {
    /// A `NAME=value` assignment found on one line.
    struct Assignment: Equatable {
        /// The index of the line in the file.
        var line: Int
        /// Everything before the value (`GRUB_CMDLINE_LINUX=`, with any `export ` and indentation).
        var prefix: String
        /// The quote character (`"` or `'`), or `nil` for an unquoted or empty value.
        var quote: Character?
        /// The value without its quotes.
        var value: String
        /// Whatever follows the value on the line (`  # comment`).
        var suffix: String
    }

    /// Why the file cannot be edited safely.
    public struct EditError: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public private(set) var lines: [String]
    /// Whether the text ended with a newline (kept as it was).
    let endsWithNewline: Bool

    public init(text: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        endsWithNewline = text.hasSuffix("\n") || text.isEmpty
        if endsWithNewline && !lines.isEmpty { lines.removeLast() }
        self.lines = lines
    }

    public var text: String { lines.joined(separator: "\n") + (endsWithNewline && !lines.isEmpty ? "\n" : "") }

    /// The tokens of the `GRUB_CMDLINE_LINUX` value, or `nil` when the variable is not assigned.
    public func commandLine() throws(EditError) -> [String]? {
        try assignment(of: "GRUB_CMDLINE_LINUX").map { KernelParameter.tokenize($0.value) }
    }

    /// The tokens of the `GRUB_CMDLINE_LINUX_DEFAULT` value, or `nil` when it is not assigned.
    public func defaultCommandLine() throws(EditError) -> [String]? {
        try assignment(of: "GRUB_CMDLINE_LINUX_DEFAULT").map { KernelParameter.tokenize($0.value) }
    }

    /// Whether `GRUB_CMDLINE_LINUX` followed by `GRUB_CMDLINE_LINUX_DEFAULT` satisfies every parameter.
    public func satisfies(_ parameters: [KernelParameter]) throws(EditError) -> Bool {
        let tokens = (try commandLine() ?? []) + (try defaultCommandLine() ?? [])
        return parameters.allSatisfy { $0.isSatisfied(by: tokens) }
    }

    /// Makes the command line satisfy `parameters`, touching nothing when it already does.
    ///
    /// A missing `GRUB_CMDLINE_LINUX` is appended (with a comment saying who added it); an empty or unquoted
    /// one becomes double-quoted when it needs more than one word.
    public mutating func apply(_ parameters: [KernelParameter]) throws(EditError) {
        let linux = try assignment(of: "GRUB_CMDLINE_LINUX")
        let defaults = try assignment(of: "GRUB_CMDLINE_LINUX_DEFAULT")
        let originalPrimary = linux.map { KernelParameter.tokenize($0.value) } ?? []
        let originalSecondary = defaults.map { KernelParameter.tokenize($0.value) } ?? []
        var primary = originalPrimary
        var secondary = originalSecondary
        for parameter in parameters {
            (primary, secondary) = parameter.apply(primary: primary, secondary: secondary)
        }
        if let defaults, secondary != originalSecondary {
            lines[defaults.line] = GrubDefaults.render(defaults, tokens: secondary)
        }
        guard primary != originalPrimary || linux == nil else { return }
        if let linux {
            lines[linux.line] = GrubDefaults.render(linux, tokens: primary)
        } else {
            if let last = lines.last, !last.isEmpty { lines.append("") }
            lines.append("# Added by gpumon setup: IOMMU on and host GPU drivers off, for GPU passthrough.")
            lines.append("GRUB_CMDLINE_LINUX=\"\(primary.joined(separator: " "))\"")
        }
    }

    // MARK: - Parsing

    static func render(_ assignment: Assignment, tokens: [String]) -> String {
        let value = tokens.joined(separator: " ")
        // An unquoted value cannot hold spaces; an empty value stays as terse as it was only if it stays empty.
        let quote = assignment.quote ?? (tokens.count > 1 || value.contains("$") ? "\"" : nil)
        let quoted = quote.map { "\($0)\(value)\($0)" } ?? value
        return assignment.prefix + quoted + assignment.suffix
    }

    /// The last assignment of `name`, or `nil` when there is none.
    func assignment(of name: String) throws(EditError) -> Assignment? {
        var found: Assignment?
        for (index, line) in lines.enumerated() {
            guard let parsed = try GrubDefaults.parse(line, index: index, name: name) else { continue }
            found = parsed
        }
        return found
    }

    static func parse(_ line: String, index: Int, name: String) throws(EditError) -> Assignment? {
        let indent = line.prefix(while: { $0 == " " || $0 == "\t" })
        var rest = line.dropFirst(indent.count)
        var prefix = String(indent)
        if rest.hasPrefix("export ") {
            prefix += "export "
            rest = rest.dropFirst("export ".count)
        }
        guard rest.hasPrefix(name + "=") else { return nil }
        prefix += name + "="
        rest = rest.dropFirst(name.count + 1)
        guard let first = rest.first, first == "\"" || first == "'" else {
            // Unquoted: the value runs to the first blank (a shell word); the rest is kept as is.
            let value = rest.prefix(while: { $0 != " " && $0 != "\t" })
            if value.contains("\\") {
                throw EditError(message: "line \(index + 1): \(name) uses backslash escapes; edit it by hand")
            }
            return Assignment(line: index, prefix: prefix, quote: nil, value: String(value),
                suffix: String(rest.dropFirst(value.count)))
        }
        let body = rest.dropFirst()
        guard let close = body.firstIndex(of: first) else {
            throw EditError(
                message: "line \(index + 1): \(name) continues on the next line; join it into one line first")
        }
        let value = body[..<close]
        if first == "\"" && value.contains("\\") {
            throw EditError(message: "line \(index + 1): \(name) uses backslash escapes; edit it by hand")
        }
        return Assignment(line: index, prefix: prefix, quote: first, value: String(value),
            suffix: String(body[body.index(after: close)...]))
    }
}
