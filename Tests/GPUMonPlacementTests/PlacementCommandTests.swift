import Foundation
import GPUMonCore
import GPUMonPlacement
import GPUMonTestSupport
import HostFS
import Testing

/// `gpumon placement status|sync` end to end: the built binary, a fake sysfs, a real Placement.
@Suite(.serialized) struct PlacementCommandTests {
    @Test func syncReservesHostDriverDevicesAndStatusThenAgrees() async throws {
        let server = try PlacementServer()
        let transport = AsyncHTTPTransport()
        let host = "rtx-01.example.org"
        let seeder = NovaSeeder(transport: transport, base: server.url, hostname: host)
        let node = try await seeder.computeNode()
        let gpu = try await seeder.device(PCIAddress(bus: 1, device: 0, function: 0), parent: node)
        let audio = try await seeder.device(PCIAddress(bus: 1, device: 0, function: 1), parent: node,
            product: "1AEF")
        // The RTX host: the GPU on nvidia, its audio on snd_hda_intel — both "not on the target driver".
        let sys = try HostFixtures.rtxHost()
        let config = try BuiltBinary.temporaryFile("""
            [daemon]
            state_dir = "\(server.workdir)/state"
            socket = "\(server.workdir)/none.sock"

            [[gpu]]
            ids = ["10de:2204"]

            [placement]
            url = "\(server.url)"
            auth = "noauth"
            hypervisor_hostname = "\(host)"
            """)
        let base = ["--config", config, "--sysfs-root", sys.tree.root]

        let before = try BuiltBinary.run(["placement", "status", "--json"] + base)
        #expect(before.status == 1, "out of sync before the first sync: \(before.stderr)")
        #expect(try await seeder.inventory(gpu).reserved == 0, "status writes nothing")

        let sync = try BuiltBinary.run(["placement", "sync", "--json"] + base)
        #expect(sync.status == 0, "\(sync.stdout)\n\(sync.stderr)")
        let report = try JSONDecoder().decode(PlacementSyncReport.self, from: Data(sync.stdout.utf8))
        #expect(report.written.sorted() == ["\(host)_0000:01:00.0", "\(host)_0000:01:00.1"])
        #expect(report.items.map(\.state) == [.hostDriver, .hostDriver])
        #expect(try await seeder.inventory(gpu).reserved == 1)
        #expect(try await seeder.inventory(audio).reserved == 1)

        let after = try BuiltBinary.run(["placement", "status"] + base)
        #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
        #expect(after.stdout.contains("reserved 1/1"))

        server.stop()
        let down = try BuiltBinary.run(["placement", "status"] + base)
        #expect(down.status == 3)
        #expect(down.stderr.contains("cannot reach"), "\(down.stderr)")
        await transport.shutdown()
    }

    @Test func withoutURLItIsAUsageError() throws {
        let sys = try HostFixtures.rtxHost()
        let config = try BuiltBinary.temporaryFile("[[gpu]]\nids = [\"10de:2204\"]\n")
        let result = try BuiltBinary.run(["placement", "status", "--config", config, "--sysfs-root", sys.tree.root])
        #expect(result.status == 2)
        #expect(result.stderr.contains("[placement] url is not set"))
    }
}
