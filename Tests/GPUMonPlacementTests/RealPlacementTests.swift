import Foundation
import GPUMonCore
import GPUMonPlacement
import Logging
import Testing

/// A transport that lets another writer change a provider just before gpumon's first inventory write reaches
/// Placement: the write then carries a stale generation and Placement answers 409.
final class InterleavingTransport: HTTPTransport, @unchecked Sendable {
    let inner: AsyncHTTPTransport
    let before: @Sendable () async throws -> Void
    private let lock = NSLock()
    private var fired = false
    private var puts = 0
    var inventoryPuts: Int { lock.withLock { puts } }

    init(inner: AsyncHTTPTransport, before: @escaping @Sendable () async throws -> Void) {
        self.inner = inner
        self.before = before
    }

    func send(method: String, url: String, headers: [(String, String)], body: [UInt8]?, timeout: Duration)
        async throws(PlacementError) -> HTTPExchange
    {
        if method == "PUT" && url.contains("/inventories/") {
            let first = lock.withLock { () -> Bool in
                puts += 1
                defer { fired = true }
                return !fired
            }
            if first {
                do { try await before() } catch { throw .transport("interleaved writer failed: \(error)", url: url) }
            }
        }
        return try await inner.send(method: method, url: url, headers: headers, body: body, timeout: timeout)
    }
}

@Suite(.serialized) struct RealPlacementTests {
    let host = "compute-01.example.org"
    let gpu1 = PCIAddress(bus: 0x01, device: 0, function: 0)
    let gpu2 = PCIAddress(bus: 0x02, device: 0, function: 0)
    let gpu3 = PCIAddress(bus: 0x03, device: 0, function: 0)

    struct World {
        let server: PlacementServer
        let transport: AsyncHTTPTransport
        let seeder: NovaSeeder
        let node: String
        let providers: [String]
        let stateDir: String
    }

    func world(oneTimeUse: Bool = false) async throws -> World {
        let server = try PlacementServer()
        let transport = AsyncHTTPTransport()
        let seeder = NovaSeeder(transport: transport, base: server.url, hostname: host)
        let node = try await seeder.computeNode()
        var providers: [String] = []
        for (index, address) in [gpu1, gpu2, gpu3].enumerated() {
            providers.append(try await seeder.device(address, parent: node, oneTimeUse: oneTimeUse && index == 2))
        }
        return World(server: server, transport: transport, seeder: seeder, node: node, providers: providers,
            stateDir: server.workdir + "/state")
    }

    func engine(_ world: World, transport: (any HTTPTransport)? = nil) -> PlacementSync {
        var placement = Config.Placement()
        placement.url = world.server.url
        placement.auth = .noauth
        placement.requestTimeout = .seconds(5)
        let transport = transport ?? world.transport
        var client = PlacementClient(placement: placement, transport: transport,
            authenticator: Authenticator(placement: placement, transport: transport))
        client.attempts = 2
        return PlacementSync(client: client, hostname: host, stateDirectory: world.stateDir, dryRun: false,
            logger: Logger(label: "test"))
    }

    func devices(_ states: [PCIAddress: DeviceState]) -> [PlacementDeviceInput] {
        [gpu1, gpu2, gpu3].map { PlacementDeviceInput(address: $0, state: states[$0] ?? .ok, groupViable: true) }
    }

    @Test func quarantineReservesAndClearUnreserves() async throws {
        let world = try await world()
        let sync = engine(world)
        let report = await sync.sync(devices: devices([gpu1: .quarantined]), apply: true)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.written == ["\(host)_0000:01:00.0"])
        #expect(try await world.seeder.inventory(world.providers[0]).reserved == 1)
        #expect(try await world.seeder.inventory(world.providers[1]).reserved == 0)
        #expect(report.inSync)
        let ledger = PlacementLedgerStore(stateDirectory: world.stateDir).load()
        #expect(ledger.ledger.reservedByGPUMon.keys.sorted() == ["\(host)_0000:01:00.0"])

        // A second sync with nothing changed writes nothing.
        #expect(await sync.sync(devices: devices([gpu1: .quarantined]), apply: true).written.isEmpty)

        // `gpumon clear`: healthy again, and gpumon reserved it, so gpumon unreserves it.
        let cleared = await sync.sync(devices: devices([:]), apply: true)
        #expect(cleared.error == nil)
        #expect(cleared.written == ["\(host)_0000:01:00.0"])
        #expect(try await world.seeder.inventory(world.providers[0]).reserved == 0)
        #expect(PlacementLedgerStore(stateDirectory: world.stateDir).load().ledger.reservedByGPUMon.isEmpty)
        await world.transport.shutdown()
    }

    @Test func everyUnschedulableStateReserves() async throws {
        let world = try await world()
        let sync = engine(world)
        let report = await sync.sync(devices: [
            PlacementDeviceInput(address: gpu1, state: .stuck, groupViable: true),
            PlacementDeviceInput(address: gpu2, state: .hostDriver, groupViable: true),
            PlacementDeviceInput(address: gpu3, state: .ok, groupViable: false),
        ], apply: true)
        #expect(report.error == nil)
        for uuid in world.providers { #expect(try await world.seeder.inventory(uuid).reserved == 1) }
        await world.transport.shutdown()
    }

    @Test func aReservationGPUMonDidNotMakeIsLeftAlone() async throws {
        let world = try await world()
        try await world.seeder.setReserved(world.providers[1], 1)  // the operator's, by hand
        let sync = engine(world)
        // Quarantined then healthy: gpumon never wrote it (already reserved), so it never lifts it.
        _ = await sync.sync(devices: devices([gpu2: .quarantined]), apply: true)
        let report = await sync.sync(devices: devices([:]), apply: true)
        #expect(report.error == nil)
        #expect(report.written.isEmpty)
        #expect(try await world.seeder.inventory(world.providers[1]).reserved == 1)
        #expect(report.items[1].reason.contains("not set by gpumon"))
        await world.transport.shutdown()
    }

    @Test func oneTimeUseCycle() async throws {
        let world = try await world(oneTimeUse: true)
        let otu = world.providers[2]
        let sync = engine(world)
        // Nova: the instance's allocation, then reserved = total (the device is "burned").
        let consumer = UUID().uuidString.lowercased()
        try await world.seeder.allocate(otu, consumer: consumer)
        try await world.seeder.setReserved(otu, 1)
        var report = await sync.sync(devices: devices([:]), apply: true)
        #expect(report.error == nil)
        #expect(report.items[2].reason.contains("still allocated"))
        // The VM is gone and its allocation deleted, but no verified reset yet: stays reserved.
        try await world.seeder.deallocate(consumer: consumer)
        report = await sync.sync(devices: devices([:]), apply: true)
        #expect(report.written.isEmpty)
        #expect(try await world.seeder.inventory(otu).reserved == 1)
        // A verified reset after gpumon saw it consumed: unreserved.
        await sync.recordVerifiedReset(gpu3, at: Date().timeIntervalSince1970 + 1)
        report = await sync.sync(devices: devices([:]), apply: true)
        #expect(report.error == nil)
        #expect(report.written == ["\(host)_0000:03:00.0"])
        #expect(try await world.seeder.inventory(otu).reserved == 0)
        await world.transport.shutdown()
    }

    @Test func generationConflictIsRetried() async throws {
        let world = try await world()
        let seeder = world.seeder
        let target = world.providers[0]
        let before = try await seeder.inventory(target).generation
        let interleaving = InterleavingTransport(inner: world.transport) { try await seeder.bumpGeneration(target) }
        let sync = engine(world, transport: interleaving)
        let report = await sync.sync(devices: devices([gpu1: .quarantined]), apply: true)
        #expect(report.error == nil, "\(report.error ?? "")")
        // First PUT hit 409 (the bump moved the generation), the second went through.
        #expect(interleaving.inventoryPuts == 2)
        let after = try await seeder.inventory(target)
        #expect(after.reserved == 1)
        #expect(after.generation == before + 2)
        await world.transport.shutdown()
    }

    @Test func placementDownThenBack() async throws {
        let world = try await world()
        let sync = engine(world)
        let port = world.server.port
        world.server.stop()
        let down = await sync.sync(devices: devices([gpu1: .quarantined]), apply: true)
        #expect(down.error?.contains("cannot reach") == true, "\(down.error ?? "nil")")
        #expect(!down.inSync)
        try world.server.start(port: port)
        let back = await sync.sync(devices: devices([gpu1: .quarantined]), apply: true)
        #expect(back.error == nil, "\(back.error ?? "")")
        #expect(try await world.seeder.inventory(world.providers[0]).reserved == 1)
        await world.transport.shutdown()
    }

    @Test func providersOfAnotherHostAreNotTouched() async throws {
        let world = try await world()
        // Another compute node with a device at the same address.
        let other = NovaSeeder(transport: world.transport, base: world.server.url, hostname: "compute-02.example.org")
        let node = try await other.computeNode()
        let foreign = try await other.device(gpu1, parent: node)
        let report = await engine(world).sync(devices: devices([gpu1: .quarantined]), apply: true)
        #expect(report.error == nil)
        #expect(try await world.seeder.inventory(foreign).reserved == 0)
        #expect(try await world.seeder.inventory(world.providers[0]).reserved == 1)
        await world.transport.shutdown()
    }
}
