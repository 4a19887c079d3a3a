import Foundation
public import GPUMonCore
public import Logging

/// What one sync found and did; `gpumon placement status|sync --json` prints it.
public struct PlacementSyncReport: Sendable, Codable {
    public var hostname: String
    public var computeNode: String?
    public var items: [PlacementPlanner.Item]
    /// Provider names whose `reserved` this sync changed.
    public var written: [String]
    public var dryRun: Bool
    /// Why the sync did not complete; `nil` when it did.
    public var error: String?
    /// Problems that did not stop the sync (an unreadable ledger).
    public var warnings: [String]
    public var time: Double

    /// Every selected function's provider matches what gpumon wants, and the sync completed.
    public var inSync: Bool { error == nil && items.allSatisfy { $0.inSync || $0.want == .unchanged && $0.provider == nil } }

    enum CodingKeys: String, CodingKey {
        case hostname, items, written, error, warnings, time
        case computeNode = "compute_node"
        case dryRun = "dry_run"
        case inSync = "in_sync"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hostname, forKey: .hostname)
        try c.encode(computeNode, forKey: .computeNode)
        try c.encode(items, forKey: .items)
        try c.encode(written, forKey: .written)
        try c.encode(dryRun, forKey: .dryRun)
        try c.encode(error, forKey: .error)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(time, forKey: .time)
        try c.encode(inSync, forKey: .inSync)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hostname = try c.decode(String.self, forKey: .hostname)
        computeNode = try c.decodeIfPresent(String.self, forKey: .computeNode)
        items = try c.decode([PlacementPlanner.Item].self, forKey: .items)
        written = try c.decode([String].self, forKey: .written)
        dryRun = try c.decode(Bool.self, forKey: .dryRun)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        warnings = try c.decode([String].self, forKey: .warnings)
        time = try c.decode(Double.self, forKey: .time)
    }

    init(hostname: String, dryRun: Bool, time: Double) {
        self.hostname = hostname
        self.computeNode = nil
        self.items = []
        self.written = []
        self.dryRun = dryRun
        self.error = nil
        self.warnings = []
        self.time = time
    }
}

/// Reads this host's PCI providers, plans with ``PlacementPlanner`` and writes `reserved`, retrying on generation
/// conflicts. One sync at a time (an actor); the ledger is read at the start of each and saved as it changes.
public actor PlacementSync {
    private let client: PlacementClient
    private let hostname: String
    private let store: PlacementLedgerStore
    private let logger: Logger
    private let dryRun: Bool
    /// Re-read-and-retry rounds for one provider when its generation keeps moving (409).
    private let conflictAttempts = 4

    public init(client: PlacementClient, hostname: String, stateDirectory: String, dryRun: Bool, logger: Logger) {
        self.client = client
        self.hostname = hostname
        self.store = PlacementLedgerStore(stateDirectory: stateDirectory)
        self.dryRun = dryRun
        self.logger = logger
    }

    /// Records a verified reset (the daemon calls this when a reset finished and was verified), so a consumed
    /// one-time-use device may be unreserved.
    public func recordVerifiedReset(_ address: PCIAddress, at time: Double) {
        guard !dryRun else { return }
        let loaded = store.load()
        guard loaded.trusted else { return }
        var ledger = loaded.ledger
        ledger.verifiedResets[address.description] = time
        save(ledger, trusted: true)
    }

    /// One pass. `apply: false` reads and plans only (`gpumon placement status`).
    public func sync(devices: [PlacementDeviceInput], apply: Bool) async -> PlacementSyncReport {
        let now = Date().timeIntervalSince1970
        var report = PlacementSyncReport(hostname: hostname, dryRun: dryRun || !apply, time: now)
        let loaded = store.load()
        if let problem = loaded.problem { report.warnings.append(problem) }
        do throws(PlacementError) {
            let nodes = try await client.providers(named: hostname)
            guard let node = nodes.first(where: { $0.name == hostname }) else {
                throw .noComputeNode(hostname: hostname)
            }
            report.computeNode = node.uuid
            let children = try await client.tree(node.uuid)
            // Only this host's device providers: children in its tree, named `<host>_<ADDRESS>`.
            let wanted = Set(devices.map { PlacementPlanner.providerName(hostname: hostname, address: $0.address) })
            var providers: [String: PlacementProvider] = [:]
            var skipped: [String] = []
            for child in children where child.parent_provider_uuid != nil && wanted.contains(child.name) {
                if let provider = try await read(child) { providers[child.name] = provider } else { skipped.append(child.name) }
            }
            for name in skipped {
                report.warnings.append("\(name) does not have exactly one inventory: not a PCI-in-Placement device, left alone")
            }
            var plan = PlacementPlanner.plan(devices: devices, providers: providers, hostname: hostname,
                ledger: loaded.ledger, ledgerTrusted: loaded.trusted, now: now)
            var ledger = plan.ledger
            if ledger != loaded.ledger { save(ledger, trusted: loaded.trusted) }
            var firstError: PlacementError?
            for index in plan.items.indices where plan.items[index].write != nil {
                guard apply && !dryRun else { continue }
                guard let device = devices.first(where: { $0.address == plan.items[index].address }) else { continue }
                do throws(PlacementError) {
                    if try await write(&plan.items[index], device: device, ledger: &ledger, trusted: loaded.trusted, now: now) {
                        report.written.append(plan.items[index].providerName)
                    }
                } catch {
                    logger.warning("placement: cannot update \(plan.items[index].providerName): \(error)")
                    firstError = firstError ?? error
                }
            }
            report.items = plan.items
            if let firstError { throw firstError }
        } catch {
            report.error = error.description
        }
        return report
    }

    // MARK: - Read and write

    /// A device provider as the planner needs it; `nil` when it is not shaped like Nova's (one inventory).
    private func read(_ provider: PlacementClient.Provider) async throws(PlacementError) -> PlacementProvider? {
        let inventories = try await client.inventories(provider.uuid)
        guard inventories.inventories.count == 1, let (resourceClass, inventory) = inventories.inventories.first
        else { return nil }
        let traits = try await client.traits(provider.uuid)
        let usages = try await client.usages(provider.uuid)
        return PlacementProvider(name: provider.name, uuid: provider.uuid,
            generation: inventories.resource_provider_generation, resourceClass: resourceClass,
            total: inventory.total, reserved: inventory.reserved, used: usages[resourceClass] ?? 0,
            oneTimeUse: traits.contains("HW_PCI_ONE_TIME_USE"))
    }

    /// Writes one item's `reserved`, re-reading and re-planning on a 409. Returns whether it wrote.
    private func write(_ item: inout PlacementPlanner.Item, device: PlacementDeviceInput,
        ledger: inout PlacementLedger, trusted: Bool, now: Double) async throws(PlacementError) -> Bool
    {
        for attempt in 1...conflictAttempts {
            guard let target = item.write, let provider = item.provider else { return false }
            let inventories = try await client.inventories(provider.uuid)
            guard var inventory = inventories.inventories[provider.resourceClass] else {
                throw .decode("inventory \(provider.resourceClass) disappeared", url: client.base)
            }
            // Decided on what was read a moment ago: if the generation moved, plan again from fresh data.
            if inventories.resource_provider_generation != provider.generation || inventory.reserved != provider.reserved {
                try await replan(&item, device: device, ledger: &ledger, trusted: trusted, now: now)
                continue
            }
            if target > 0 {
                // Remember before writing: a crash between the two leaves a record gpumon can act on.
                ledger.reservedByGPUMon[provider.name] = now
                save(ledger, trusted: trusted)
            }
            inventory.reserved = target
            switch try await client.putInventory(provider.uuid, resourceClass: provider.resourceClass, inventory,
                generation: provider.generation)
            {
            case .written(let generation):
                item.provider?.reserved = target
                item.provider?.generation = generation
                item.write = nil
                if target == 0 {
                    ledger.reservedByGPUMon[provider.name] = nil
                    ledger.consumedSince[provider.name] = nil
                    save(ledger, trusted: trusted)
                }
                logger.notice("placement: \(provider.name) reserved = \(target) (\(item.reason))")
                return true
            case .conflict:
                logger.info("placement: \(provider.name) changed while writing (409), attempt \(attempt); re-reading")
                if target > 0, item.provider?.reserved != target {
                    // The write did not happen: the record made for it must not outlive it.
                    ledger.reservedByGPUMon[provider.name] = nil
                    save(ledger, trusted: trusted)
                }
                try await replan(&item, device: device, ledger: &ledger, trusted: trusted, now: now)
            }
        }
        if item.write == nil { return false }
        throw .conflict(provider: item.providerName, attempts: conflictAttempts)
    }

    private func replan(_ item: inout PlacementPlanner.Item, device: PlacementDeviceInput,
        ledger: inout PlacementLedger, trusted: Bool, now: Double) async throws(PlacementError)
    {
        guard let uuid = item.provider?.uuid else { return }
        let children = try await client.tree(uuid)
        guard let current = children.first(where: { $0.uuid == uuid }), let fresh = try await read(current) else {
            item.write = nil
            item.provider = nil
            return
        }
        let plan = PlacementPlanner.plan(devices: [device], providers: [fresh.name: fresh], hostname: hostname,
            ledger: ledger, ledgerTrusted: trusted, now: now)
        ledger = plan.ledger
        if let replanned = plan.items.first { item = replanned }
    }

    private func save(_ ledger: PlacementLedger, trusted: Bool) {
        // An untrusted (unreadable) ledger is never overwritten: the operator decides (docs/runbook.md).
        guard trusted, !dryRun else { return }
        do {
            try store.save(ledger)
        } catch {
            logger.error("placement: cannot save \(store.path): \(error)")
        }
    }
}
