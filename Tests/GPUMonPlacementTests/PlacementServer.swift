import Foundation
import GPUMonCore
import GPUMonPlacement

/// A real OpenStack Placement (PyPI's openstack-placement, SQLite, noauth2) started by the tests themselves from
/// the venv `tests/placement/setup-venv` makes. Missing venv is a failure, not a skip: the suite must run in CI.
final class PlacementServer: @unchecked Sendable {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static var python: String { repository.appendingPathComponent(".build/placement-venv/bin/python").path }
    static var script: String { repository.appendingPathComponent("tests/placement/server.py").path }

    let workdir: String
    private(set) var port: Int = 0
    private var process: Process?
    private var stdin: Pipe?

    var url: String { "http://127.0.0.1:\(port)" }

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            throw Missing(description: "no Placement venv at \(Self.python): run tests/placement/setup-venv (make test does)")
        }
        workdir = NSTemporaryDirectory() + "gpumon-placement-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
        try start(port: 0)
    }

    /// Starts the server (again) on `port` (0: any free one) with the same database.
    func start(port requested: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.script, workdir, String(requested)]
        let out = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardInput = input
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // The server prints "PORT n" once it listens; reading blocks until then (the real signal, no sleep).
        var line = ""
        let handle = out.fileHandleForReading
        while !line.hasSuffix("\n") {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty { break }
            line += String(decoding: byte, as: UTF8.self)
        }
        guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            process.terminate()
            throw Missing(description: "Placement server did not start (said \"\(line)\")")
        }
        self.port = port
        self.process = process
        self.stdin = input
    }

    /// Stops the server and waits until it is gone (its port then refuses connections).
    func stop() {
        guard let process else { return }
        process.terminate()
        process.waitUntilExit()
        self.process = nil
        stdin = nil
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: workdir)
    }
}

/// Populates Placement the way Nova's resource tracker does with `[pci] report_in_placement = True`, and reads it
/// back independently of the code under test.
struct NovaSeeder {
    let transport: AsyncHTTPTransport
    let base: String
    let hostname: String

    private func call(_ method: String, _ path: String, _ body: [String: Any]? = nil, microversion: String = "1.36")
        async throws -> (Int, [String: Any])
    {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        var headers = [("X-Auth-Token", "admin"), ("OpenStack-API-Version", "placement \(microversion)"),
            ("Accept", "application/json")]
        if data != nil { headers.append(("Content-Type", "application/json")) }
        let exchange = try await transport.send(method: method, url: base + path, headers: headers,
            body: data.map { Array($0) }, timeout: .seconds(10))
        let object = (try? JSONSerialization.jsonObject(with: Data(exchange.body))) as? [String: Any] ?? [:]
        return (exchange.status, object)
    }

    private func expect(_ result: (Int, [String: Any]), _ statuses: Set<Int>, _ what: String) throws -> [String: Any] {
        guard statuses.contains(result.0) else { throw PlacementServer.Missing(description: "\(what): HTTP \(result.0) \(result.1)") }
        return result.1
    }

    /// The compute node provider with VCPU/MEMORY inventory, as Nova creates it.
    func computeNode() async throws -> String {
        let uuid = UUID().uuidString.lowercased()
        _ = try expect(await call("POST", "/resource_providers", ["name": hostname, "uuid": uuid]), [200], "create node")
        _ = try expect(await call("PUT", "/resource_providers/\(uuid)/inventories", [
            "resource_provider_generation": 0,
            "inventories": ["VCPU": ["total": 32], "MEMORY_MB": ["total": 131072]],
        ]), [200], "node inventory")
        return uuid
    }

    /// A PCI device provider: `<host>_<ADDRESS>`, child of the node, `total = max_unit = 1` of
    /// `CUSTOM_PCI_<VENDOR>_<PRODUCT>`, trait `COMPUTE_MANAGED_PCI_DEVICE` (plus `HW_PCI_ONE_TIME_USE`).
    func device(_ address: PCIAddress, parent: String, vendor: String = "10DE", product: String = "2204",
        oneTimeUse: Bool = false) async throws -> String
    {
        let uuid = UUID().uuidString.lowercased()
        let rc = "CUSTOM_PCI_\(vendor)_\(product)"
        _ = try expect(await call("PUT", "/resource_classes/\(rc)"), [201, 204], "resource class")
        _ = try expect(await call("POST", "/resource_providers", [
            "name": "\(hostname)_\(address.description.uppercased())", "uuid": uuid, "parent_provider_uuid": parent,
        ]), [200], "create device")
        _ = try expect(await call("PUT", "/resource_providers/\(uuid)/inventories", [
            "resource_provider_generation": 0,
            "inventories": [rc: ["total": 1, "max_unit": 1, "min_unit": 1, "step_size": 1, "allocation_ratio": 1.0,
                "reserved": 0]],
        ]), [200], "device inventory")
        var traits = ["COMPUTE_MANAGED_PCI_DEVICE"]
        if oneTimeUse { traits.append("HW_PCI_ONE_TIME_USE") }
        _ = try expect(await call("PUT", "/resource_providers/\(uuid)/traits", [
            "resource_provider_generation": 1, "traits": traits,
        ]), [200], "device traits")
        return uuid
    }

    struct Read {
        let reserved: Int
        let total: Int
        let generation: Int
    }

    func inventory(_ uuid: String) async throws -> Read {
        let object = try expect(await call("GET", "/resource_providers/\(uuid)/inventories"), [200], "read inventory")
        let inventories = object["inventories"] as? [String: [String: Any]] ?? [:]
        let generation = object["resource_provider_generation"] as? Int ?? -1
        guard let first = inventories.first?.value else { throw PlacementServer.Missing(description: "no inventory") }
        return Read(reserved: first["reserved"] as? Int ?? -1, total: first["total"] as? Int ?? -1, generation: generation)
    }

    /// What an operator (or Nova for a one-time-use device) does: set `reserved` directly.
    func setReserved(_ uuid: String, _ reserved: Int) async throws {
        let read = try await inventory(uuid)
        let object = try expect(await call("GET", "/resource_providers/\(uuid)/inventories"), [200], "read")
        guard let (rc, _) = (object["inventories"] as? [String: Any])?.first else { return }
        _ = try expect(await call("PUT", "/resource_providers/\(uuid)/inventories/\(rc)", [
            "resource_provider_generation": read.generation, "total": read.total, "reserved": reserved,
            "max_unit": 1, "min_unit": 1, "step_size": 1, "allocation_ratio": 1.0,
        ]), [200], "set reserved")
    }

    /// Adds a trait (bumps the provider generation: another writer at work).
    func bumpGeneration(_ uuid: String) async throws {
        let object = try expect(await call("GET", "/resource_providers/\(uuid)/traits"), [200], "read traits")
        let traits = (object["traits"] as? [String] ?? []) + ["CUSTOM_BUMPED_\(Int.random(in: 0..<1_000_000))"]
        for trait in traits where trait.hasPrefix("CUSTOM_") {
            _ = try expect(await call("PUT", "/traits/\(trait)"), [201, 204], "create trait")
        }
        _ = try expect(await call("PUT", "/resource_providers/\(uuid)/traits", [
            "resource_provider_generation": object["resource_provider_generation"] as? Int ?? 0, "traits": traits,
        ]), [200], "bump")
    }

    /// An instance's allocation of the device, as the scheduler makes it.
    func allocate(_ uuid: String, consumer: String) async throws {
        let object = try expect(await call("GET", "/resource_providers/\(uuid)/inventories"), [200], "read")
        guard let rc = (object["inventories"] as? [String: Any])?.keys.first else { return }
        _ = try expect(await call("PUT", "/allocations/\(consumer)", [
            "allocations": [uuid: ["resources": [rc: 1]]],
            "project_id": "p", "user_id": "u", "consumer_generation": NSNull(),
        ]), [204], "allocate")
    }

    func deallocate(consumer: String) async throws {
        _ = try expect(await call("DELETE", "/allocations/\(consumer)"), [204], "deallocate")
    }
}
