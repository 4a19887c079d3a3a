import Foundation
import HostFS
import SystemPackage
import Testing

/// Defect 5: the daemon (root) writes its textfile, state and journal with `writeFileAtomically`. The temporary file
/// was `<target>.gpumon-tmp-<pid>`, opened with `O_CREAT|O_TRUNC` through symlinks, so a link planted there made
/// root overwrite any file; and the unit's umask made the textfile 0600.
@Suite(.serialized) struct AtomicWriteTests {
    func scratch() throws -> (FileTree, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpumon-atomic-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return (FileTree(root: dir), dir)
    }

    @Test func aLinkPlantedAtTheOldTemporaryNameIsNotFollowed() throws {
        let (tree, dir) = try scratch()
        let victim = dir + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        // Links at every name the temporary file could have had before: this pid's and a neighbour's.
        let pid = ProcessInfo.processInfo.processIdentifier
        for candidate in [pid, pid + 1] {
            try FileManager.default.createSymbolicLink(atPath: dir + "/gpumon.prom.gpumon-tmp-\(candidate)",
                withDestinationPath: victim)
        }
        try tree.writeFileAtomically("metric 1\n", to: "gpumon.prom")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        #expect(try String(contentsOfFile: dir + "/gpumon.prom", encoding: .utf8) == "metric 1\n")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("gpumon-tmp") }
        #expect(leftovers.sorted() == ["gpumon.prom.gpumon-tmp-\(pid)", "gpumon.prom.gpumon-tmp-\(pid + 1)"],
            "only the planted links, no temporary file of ours")
    }

    @Test func aLinkAtTheTargetIsReplacedNotWrittenThrough() throws {
        let (tree, dir) = try scratch()
        let victim = dir + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/state.json", withDestinationPath: victim)
        try tree.writeFileAtomically("{}\n", to: "state.json")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        let type = try FileManager.default.attributesOfItem(atPath: dir + "/state.json")[.type] as? FileAttributeType
        #expect(type == .typeRegular)
    }

    @Test func theModeAskedForWhateverTheUmask() throws {
        let (tree, dir) = try scratch()
        let old = umask(0o077)
        defer { umask(old) }
        try tree.writeFileAtomically("metric 1\n", to: "gpumon.prom",
            permissions: [.ownerReadWrite, .groupRead, .otherRead])
        umask(old)
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/gpumon.prom")[.posixPermissions] as? Int
        #expect(mode == 0o644)
    }
}
