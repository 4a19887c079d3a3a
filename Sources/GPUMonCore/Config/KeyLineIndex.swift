/// Finds the source line of each key in a TOML document, so config errors can name it.
///
/// TOMLKit does not expose source positions of parsed values, so this scans the text for table headers
/// (`[daemon]`, `[[gpu]]`) and `key =` lines. It only needs to be right for documents that parsed.
struct KeyLineIndex {
    private var lines: [String: Int] = [:]

    init(source: String) {
        var table = ""
        var arrayCounts: [String: Int] = [:]
        var inMultilineString = false
        for (offset, rawLine) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = rawLine.trimmingPrefixWhitespace()
            let quoteRuns = line.components(separatedBy3: "\"\"\"") + line.components(separatedBy3: "'''")
            if inMultilineString {
                if quoteRuns % 2 == 1 { inMultilineString = false }
                continue
            }
            if line.hasPrefix("[[") {
                let name = KeyLineIndex.headerName(line.dropFirst(2), closing: "]]")
                let index = arrayCounts[name, default: 0]
                arrayCounts[name] = index + 1
                table = "\(name)[\(index)]"
                lines[table] = number
            } else if line.hasPrefix("[") {
                table = KeyLineIndex.headerName(line.dropFirst(), closing: "]")
                lines[table] = lines[table] ?? number
            } else if let equals = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = line[..<equals].trimmingCharacters().trimmingQuotes()
                guard !key.isEmpty else { continue }
                let path = table.isEmpty ? key : "\(table).\(key)"
                lines[path] = lines[path] ?? number
                if quoteRuns % 2 == 1 { inMultilineString = true }
            }
        }
    }

    private static func headerName(_ rest: Substring, closing: String) -> String {
        let end = rest.firstRange(of: closing)?.lowerBound ?? rest.endIndex
        return rest[..<end].split(separator: ".").map { $0.trimmingCharacters().trimmingQuotes() }.joined(
            separator: ".")
    }

    /// The line of `path` (`gpu[1].ids[0]`), or of its closest enclosing key or table; 0 when unknown.
    func line(of path: String) -> Int {
        var candidate = path
        while !candidate.isEmpty {
            if let line = lines[candidate] { return line }
            if candidate.hasSuffix("]"), let open = candidate.lastIndex(of: "[") {
                candidate = String(candidate[..<open])
                continue
            }
            guard let dot = candidate.lastIndex(of: ".") else { return 0 }
            candidate = String(candidate[..<dot])
        }
        return 0
    }
}

extension Substring {
    fileprivate func trimmingPrefixWhitespace() -> Substring { drop(while: { $0 == " " || $0 == "\t" }) }

    fileprivate func trimmingCharacters() -> Substring {
        let start = drop(while: { $0 == " " || $0 == "\t" })
        var end = start.endIndex
        while end > start.startIndex, let prev = Optional(start.index(before: end)),
            start[prev] == " " || start[prev] == "\t"
        {
            end = prev
        }
        return start[start.startIndex..<end]
    }

    fileprivate func trimmingQuotes() -> String {
        if count >= 2, let first, let last, first == last, first == "\"" || first == "'" {
            return String(dropFirst().dropLast())
        }
        return String(self)
    }

    /// How many times `separator` occurs.
    fileprivate func components(separatedBy3 separator: String) -> Int {
        var count = 0
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
