/// A unified diff (`diff -u` format) of two texts, computed in Swift: a longest-common-subsequence line diff on
/// the part between the common prefix and suffix, grouped into hunks with three lines of context.
///
/// The output matches GNU `diff -u` hunk for hunk whenever the shortest edit is unique; `patch -p1` applies it.
public enum UnifiedDiff {
    /// One step of an edit script.
    enum Edit: Equatable {
        case keep(old: Int, new: Int)
        case delete(old: Int)
        case insert(new: Int)
    }

    /// Middle sections larger than this many cells (lines × lines) are diffed as one replacement instead of by
    /// LCS, which keeps memory bounded; configuration files are far below it.
    static let maximumTableSize = 4_000_000

    /// The diff of `old` and `new`, or `""` when they are equal.
    ///
    /// - Parameters:
    ///   - oldName: the `---` name (`a/etc/default/grub`, or `/dev/null` for a new file).
    ///   - newName: the `+++` name.
    ///   - context: lines of context around each change.
    public static func diff(old: String, new: String, oldName: String, newName: String, context: Int = 3) -> String {
        if old == new { return "" }
        let a = lines(old)
        let b = lines(new)
        let script = edits(a, b)
        var out = "--- \(oldName)\n+++ \(newName)\n"
        for hunk in hunks(script, context: context) {
            out += header(hunk, script: script)
            for edit in script[hunk] {
                switch edit {
                case .keep(let o, _): out += render(" ", a[o])
                case .delete(let o): out += render("-", a[o])
                case .insert(let n): out += render("+", b[n])
                }
            }
        }
        return out
    }

    /// The lines of a text, each with its `\n` unless it is a last line without one, so that "last line with and
    /// without a newline" compare as different, as in `diff`.
    static func lines(_ text: String) -> [Substring] {
        var result: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            if text[index] == "\n" {
                result.append(text[start..<next])
                start = next
            }
            index = next
        }
        if start < text.endIndex { result.append(text[start...]) }
        return result
    }

    private static func render(_ mark: String, _ line: Substring) -> String {
        if line.hasSuffix("\n") { return mark + line }
        return mark + line + "\n\\ No newline at end of file\n"
    }

    /// The edit script turning `a` into `b`, keeps first within each run of equal lines.
    static func edits(_ a: [Substring], _ b: [Substring]) -> [Edit] {
        var prefix = 0
        while prefix < a.count && prefix < b.count && a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix && suffix < b.count - prefix
            && a[a.count - 1 - suffix] == b[b.count - 1 - suffix]
        {
            suffix += 1
        }
        var script: [Edit] = (0..<prefix).map { .keep(old: $0, new: $0) }
        let aMid = Array(a[prefix..<(a.count - suffix)])
        let bMid = Array(b[prefix..<(b.count - suffix)])
        script += middle(aMid, bMid).map { edit in
            switch edit {
            case .keep(let o, let n): return .keep(old: o + prefix, new: n + prefix)
            case .delete(let o): return .delete(old: o + prefix)
            case .insert(let n): return .insert(new: n + prefix)
            }
        }
        script += (0..<suffix).map { .keep(old: a.count - suffix + $0, new: b.count - suffix + $0) }
        return script
    }

    /// LCS by dynamic programming over the suffixes, then a walk that prefers deletions before insertions, the
    /// order `diff` prints them in.
    private static func middle(_ a: [Substring], _ b: [Substring]) -> [Edit] {
        let n = a.count
        let m = b.count
        if n == 0 { return (0..<m).map { .insert(new: $0) } }
        if m == 0 { return (0..<n).map { .delete(old: $0) } }
        if (n + 1) * (m + 1) > maximumTableSize {
            return (0..<n).map { .delete(old: $0) } + (0..<m).map { .insert(new: $0) }
        }
        // table[i * (m + 1) + j] = length of the LCS of a[i...] and b[j...].
        var table = [Int](repeating: 0, count: (n + 1) * (m + 1))
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                table[i * (m + 1) + j] = a[i] == b[j]
                    ? table[(i + 1) * (m + 1) + j + 1] + 1
                    : max(table[(i + 1) * (m + 1) + j], table[i * (m + 1) + j + 1])
            }
        }
        var script: [Edit] = []
        var i = 0
        var j = 0
        while i < n && j < m {
            if a[i] == b[j] && table[i * (m + 1) + j] == table[(i + 1) * (m + 1) + j + 1] + 1 {
                script.append(.keep(old: i, new: j))
                i += 1
                j += 1
            } else if table[(i + 1) * (m + 1) + j] >= table[i * (m + 1) + j + 1] {
                script.append(.delete(old: i))
                i += 1
            } else {
                script.append(.insert(new: j))
                j += 1
            }
        }
        while i < n { script.append(.delete(old: i)); i += 1 }
        while j < m { script.append(.insert(new: j)); j += 1 }
        return script
    }

    /// Ranges of the script that form hunks: each change with `context` kept lines around it, changes closer
    /// than twice the context merged into one hunk.
    static func hunks(_ script: [Edit], context: Int) -> [Range<Int>] {
        let changed = script.indices.filter { if case .keep = script[$0] { return false } else { return true } }
        guard let first = changed.first else { return [] }
        var ranges: [Range<Int>] = []
        var start = max(0, first - context)
        var end = min(script.count, first + 1 + context)
        for index in changed.dropFirst() {
            if index - context <= end {
                end = min(script.count, index + 1 + context)
            } else {
                ranges.append(start..<end)
                start = max(0, index - context)
                end = min(script.count, index + 1 + context)
            }
        }
        ranges.append(start..<end)
        return ranges
    }

    /// `@@ -l,s +l,s @@`: 1-based starts, counts omitted when 1, and for an empty side the line before.
    private static func header(_ hunk: Range<Int>, script: [Edit]) -> String {
        var oldCount = 0
        var newCount = 0
        var oldStart: Int?
        var newStart: Int?
        var oldBefore = 0
        var newBefore = 0
        for index in 0..<hunk.lowerBound {
            switch script[index] {
            case .keep: oldBefore += 1; newBefore += 1
            case .delete: oldBefore += 1
            case .insert: newBefore += 1
            }
        }
        for edit in script[hunk] {
            switch edit {
            case .keep(let o, let n):
                oldStart = oldStart ?? o
                newStart = newStart ?? n
                oldCount += 1
                newCount += 1
            case .delete(let o):
                oldStart = oldStart ?? o
                oldCount += 1
            case .insert(let n):
                newStart = newStart ?? n
                newCount += 1
            }
        }
        func range(_ start: Int?, _ count: Int, before: Int) -> String {
            if count == 0 { return "\(before),0" }
            let first = (start ?? before) + 1
            return count == 1 ? "\(first)" : "\(first),\(count)"
        }
        return "@@ -\(range(oldStart, oldCount, before: oldBefore)) +\(range(newStart, newCount, before: newBefore)) @@\n"
    }
}
