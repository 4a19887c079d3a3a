import Foundation
import GPUMonTestSupport
import HostFS
import Testing

@Suite struct CheckConfigCommandTests {
    @Test func printsTheResolvedSelectionWithExclusions() throws {
        let sys = try HostFixtures.sharedIDsBootVGAHost()
        let config = try BuiltBinary.temporaryFile("""
            [[gpu]]
            ids = ["10de:2204", "10de:9999"]
            [[gpu]]
            addresses = ["0000:81:00.0"]
            """)
        let result = try BuiltBinary.run(["check-config", "--config", config, "--sysfs-root", sys.tree.root])
        #expect(result.status == 0)
        let expected = """
            config \(config): valid
            target driver: vfio-pci; boot VGA: never selected
            reset budget: 3 per 10m, at least 30s apart
            [[gpu]] #0 (line 1): ids 10de:2204, 10de:9999; with companions; reset after stop: auto; methods: flr, bus, slot, remove-rescan
              ADDRESS       ID         DRIVER         SELECTION
              0000:02:00.0  10de:2204  nvidia         selected (id)
              0000:02:00.1  10de:1aef  snd_hda_intel  selected (companion of 0000:02:00.0)
              0000:01:00.0  10de:2204  nvidia         excluded: boot VGA, the host console (allow_boot_vga = false)
            [[gpu]] #1 (line 3): addresses 0000:81:00.0; with companions; reset after stop: auto; methods: flr, bus, slot, remove-rescan
              (selects nothing on this host)
            warning: [[gpu]] #0 ids 10de:9999 matches no device on this host
            warning: [[gpu]] #1 address 0000:81:00.0 is not present on this host

            """
        #expect(result.stdout == expected)
    }

    /// The whole bad-config corpus through the binary: exit 2, one line on stderr, nothing on stdout.
    @Test func badConfigCorpusThroughTheBinary() throws {
        let dir = repositoryRoot() + "/Tests/Fixtures/bad-configs"
        let expected = try String(contentsOfFile: dir + "/expected-errors.txt", encoding: .utf8)
        for line in expected.split(separator: "\n") {
            let name = String(line.prefix(while: { $0 != ":" }))
            let result = try BuiltBinary.run(["check-config", "--config", dir + "/" + name])
            #expect(result.status == 2, "\(name)")
            #expect(result.stdout.isEmpty, "\(name)")
            #expect(result.stderr == "gpumon: \(dir)/\(line)\n")
        }
    }
}

func repositoryRoot(file: String = #filePath) -> String {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .path
}
