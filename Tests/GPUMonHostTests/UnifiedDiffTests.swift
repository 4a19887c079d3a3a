@testable import GPUMonHost
import Testing

@Suite struct UnifiedDiffTests {
    @Test func equalTextsHaveNoDiff() {
        #expect(UnifiedDiff.diff(old: "a\n", new: "a\n", oldName: "a/x", newName: "b/x") == "")
    }
}
