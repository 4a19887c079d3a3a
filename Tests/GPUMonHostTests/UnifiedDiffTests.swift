import Foundation
@testable import GPUMonHost
import Testing

@Suite struct UnifiedDiffTests {
    @Test func equalTextsHaveNoDiff() {
        #expect(UnifiedDiff.diff(old: "a\nb\n", new: "a\nb\n", oldName: "a/x", newName: "b/x") == "")
    }

    @Test func oneChangedLineWithContext() {
        let old = (1...10).map { "line \($0)\n" }.joined()
        let new = old.replacingOccurrences(of: "line 5\n", with: "line five\n")
        #expect(UnifiedDiff.diff(old: old, new: new, oldName: "a/f", newName: "b/f") == """
            --- a/f
            +++ b/f
            @@ -2,7 +2,7 @@
             line 2
             line 3
             line 4
            -line 5
            +line five
             line 6
             line 7
             line 8

            """)
    }

    @Test func distantChangesMakeTwoHunks() {
        let old = (1...20).map { "\($0)\n" }.joined()
        var lines = (1...20).map { "\($0)\n" }
        lines[1] = "two\n"
        lines.insert("inserted\n", at: 18)
        let diff = UnifiedDiff.diff(old: old, new: lines.joined(), oldName: "a/f", newName: "b/f")
        #expect(diff == """
            --- a/f
            +++ b/f
            @@ -1,5 +1,5 @@
             1
            -2
            +two
             3
             4
             5
            @@ -16,5 +16,6 @@
             16
             17
             18
            +inserted
             19
             20

            """)
    }

    @Test func newFileAndMissingNewline() {
        #expect(UnifiedDiff.diff(old: "", new: "a\nb\n", oldName: "/dev/null", newName: "b/f") == """
            --- /dev/null
            +++ b/f
            @@ -0,0 +1,2 @@
            +a
            +b

            """)
        #expect(UnifiedDiff.diff(old: "a\nb", new: "a\nb\n", oldName: "a/f", newName: "b/f") == """
            --- a/f
            +++ b/f
            @@ -1,2 +1,2 @@
             a
            -b
            \\ No newline at end of file
            +b

            """)
    }

    /// Random edits of random files: `patch` must turn the old text into the new one with our diff, and GNU
    /// diff must agree on the number of changed lines. Skipped where the tools are missing.
    @Test func patchAppliesRandomDiffs() throws {
        let patch = "/usr/bin/patch"
        guard FileManager.default.isExecutableFile(atPath: patch) else { return }
        var rng = SeededGenerator(seed: 42)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpumon-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for round in 0..<60 {
            let words = ["a", "b", "c", "d", "GRUB", "", "# x"]
            let old = (0..<Int.random(in: 0...25, using: &rng)).map { _ in words.randomElement(using: &rng)! + "\n" }
            var new = old
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                switch Int.random(in: 0...2, using: &rng) {
                case 0 where !new.isEmpty: new.remove(at: Int.random(in: 0..<new.count, using: &rng))
                case 1: new.insert(words.randomElement(using: &rng)! + "\n", at: Int.random(in: 0...new.count, using: &rng))
                default:
                    if !new.isEmpty { new[Int.random(in: 0..<new.count, using: &rng)] = "changed\n" }
                }
            }
            let oldText = old.joined()
            let newText = new.joined()
            let diff = UnifiedDiff.diff(old: oldText, new: newText, oldName: "a/f", newName: "b/f")
            if oldText == newText {
                #expect(diff.isEmpty)
                continue
            }
            let file = dir.appendingPathComponent("f")
            try oldText.write(to: file, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: patch)
            process.arguments = ["-s", "-p1", "-d", dir.path]
            let input = Pipe()
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(Data(diff.utf8))
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "round \(round):\n\(diff)")
            #expect(try String(contentsOf: file, encoding: .utf8) == newText, "round \(round):\n\(diff)")
        }
    }
}

/// A deterministic random source (SplitMix64) so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
