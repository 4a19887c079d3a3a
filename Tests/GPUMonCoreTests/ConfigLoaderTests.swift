import GPUMonCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ConfigLoaderTests {
    @Test func fullConfigResolvesEveryKey() throws {
        let text = """
            [daemon]
            target_driver = "vfio-pci"
            allow_boot_vga = true
            socket = "/run/gpumon/test.sock"
            state_dir = "/var/lib/gpumon-test"

            [[gpu]]
            ids = ["10de:2204", "10DE:1AEF"]
            companions = false
            reset_after_stop = "on-stuck"
            reset_methods = ["bus", "remove-rescan"]

            [[gpu]]
            addresses = ["41:00.0"]

            [reset]
            max_resets = 5
            window = "1h"
            min_interval = "45s"

            [libvirt]
            log_dirs = ["/var/log/libvirt/qemu"]

            [alerts]
            command = "/usr/local/bin/page-oncall"
            textfile = "/var/lib/node_exporter/textfile/gpumon.prom"
            """
        let config = try ConfigLoader.parse(text, file: "test.toml")
        #expect(config.daemon.targetDriver == "vfio-pci")
        #expect(config.daemon.allowBootVGA)
        #expect(config.daemon.socket == "/run/gpumon/test.sock")
        #expect(config.daemon.stateDir == "/var/lib/gpumon-test")
        #expect(config.gpus.count == 2)
        #expect(config.gpus[0].ids == [PCIID(vendor: 0x10de, device: 0x2204), PCIID(vendor: 0x10de, device: 0x1aef)])
        #expect(config.gpus[0].companions == false)
        #expect(config.gpus[0].resetAfterStop == .onStuck)
        #expect(config.gpus[0].resetMethods == [.bus, .removeRescan])
        #expect(config.gpus[0].line == 7)
        #expect(config.gpus[1].addresses == [try PCIAddress(parsing: "0000:41:00.0")])
        #expect(config.gpus[1].companions)
        #expect(config.gpus[1].resetAfterStop == .auto)
        #expect(config.gpus[1].resetMethods == ResetMethod.defaultOrder)
        #expect(config.gpus[1].line == 13)
        #expect(config.reset.maxResets == 5)
        #expect(config.reset.window == .seconds(3600))
        #expect(config.reset.minInterval == .seconds(45))
        #expect(config.libvirt.logDirs == ["/var/log/libvirt/qemu"])
        #expect(config.alerts.command == "/usr/local/bin/page-oncall")
        #expect(config.alerts.textfile == "/var/lib/node_exporter/textfile/gpumon.prom")
    }

    @Test func minimalConfigTakesDocumentedDefaults() throws {
        let config = try ConfigLoader.parse("[[gpu]]\nids = [\"10de:2204\"]\n", file: "min.toml")
        #expect(config.daemon.targetDriver == "vfio-pci")
        #expect(config.daemon.allowBootVGA == false)
        #expect(config.daemon.socket == "/run/gpumon/gpumon.sock")
        #expect(config.daemon.stateDir == "/var/lib/gpumon")
        #expect(config.reset.maxResets == 3)
        #expect(config.reset.window == .seconds(600))
        #expect(config.reset.minInterval == .seconds(30))
        #expect(config.libvirt.logDirs == ["/var/log/libvirt/qemu", "/var/log/kolla/libvirt/qemu"])
        #expect(config.alerts.command == nil && config.alerts.textfile == nil)
        #expect(config.gpus[0].companions)
    }

    @Test func shippedExampleConfigIsValid() throws {
        let path = repositoryRoot() + "/docs/gpumon.example.toml"
        let config = try ConfigLoader.load(path: path)
        #expect(!config.gpus.isEmpty)
    }

    /// Every file in the bad-config corpus fails with exactly the recorded one-line error.
    @Test func badConfigCorpus() throws {
        let dir = repositoryRoot() + "/Tests/Fixtures/bad-configs"
        let expected = try #require(readFile(dir + "/expected-errors.txt"))
        let lines = expected.split(separator: "\n").map(String.init)
        #expect(lines.count >= 12)
        for line in lines {
            let name = String(line.prefix(while: { $0 != ":" }))
            let text = try #require(readFile(dir + "/" + name), "missing corpus file \(name)")
            do {
                _ = try ConfigLoader.parse(text, file: name)
                Issue.record("\(name) was accepted")
            } catch {
                #expect(error.description == line)
                #expect(!error.description.contains("\n"))
                #expect(error.line > 0, "\(name): the error names no line")
            }
        }
    }

    @Test func missingFileIsOneLine() {
        #expect(throws: ConfigError(file: "/nonexistent/gpumon.toml", line: 0, key: "",
            message: "config file does not exist")) {
            try ConfigLoader.load(path: "/nonexistent/gpumon.toml")
        }
    }
}

func repositoryRoot(file: String = #filePath) -> String {
    var parts = file.split(separator: "/", omittingEmptySubsequences: false)
    while let last = parts.last, last != "Tests" { parts.removeLast() }
    parts.removeLast()
    return parts.joined(separator: "/")
}

func readFile(_ path: String) -> String? {
    guard let handle = fopen(path, "r") else { return nil }
    defer { fclose(handle) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, handle)
        if n == 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}
