public import GPUMonCore
public import HostFS
public import Logging
public import Udev

#if canImport(Glibc)
import Glibc
#endif

/// Keeps every selected function on the target driver. One actor: events, reloads and status requests are
/// handled one at a time, so the plan is always made from a consistent snapshot.
///
/// The loop is: observe (sysfs, `/proc` holders) → plan (``Reconciler``, pure) → execute (``ClaimExecutor``,
/// verified) → report (alerts, metrics, logs).
public actor Enforcer {
    /// What the enforcer needs from the host.
    public struct Environment: Sendable {
        public var sysfs: FileTree
        public var proc: FileTree
        public var writer: any AttributeWriter
        public var dryRun: Bool
        public var ueventSource: String
        /// Loads a kernel module by name; returns whether it succeeded.
        public var loadModule: @Sendable (String) async -> Bool

        public init(
            sysfs: FileTree, proc: FileTree, writer: any AttributeWriter, dryRun: Bool, ueventSource: String,
            loadModule: @escaping @Sendable (String) async -> Bool
        ) {
            self.sysfs = sysfs
            self.proc = proc
            self.writer = writer
            self.dryRun = dryRun
            self.ueventSource = ueventSource
            self.loadModule = loadModule
        }
    }

    private var config: Config
    private let environment: Environment
    private let logger: Logger
    private let metrics: DaemonMetrics
    private let alerts: AlertCenter
    private let textfile: MetricsTextfile?
    private var topology = PCITopology(devices: [])
    private var selection = Selection()
    private var flaps: FlapTracker
    private var alertedNonViable: Set<Int> = []
    private var lastEvents: [DaemonView.EventRecord] = []
    private var eventsSeen = 0
    private let started = ContinuousClock.now
    private var backoffTimer: Task<Void, Never>?
    /// Functions being reset: their transient states (removed, unbound) are the reset's, not a host driver's.
    private var suspended: Set<PCIAddress> = []
    /// Functions a claim is working on right now (its writes run off the actor).
    private var claiming: Set<PCIAddress> = []
    /// States the VM-lifecycle side reports (`resetting`, `stuck`, `quarantined`) with why.
    private var lifecycleStates: [PCIAddress: (DeviceState, String)] = [:]
    /// Told of state changes (per-device metrics, Placement); set once at start.
    private var changes: DeviceChangeFeed?

    public init(config: Config, environment: Environment, logger: Logger, metrics: DaemonMetrics, alerts: AlertCenter) {
        self.config = config
        self.environment = environment
        self.logger = logger
        self.metrics = metrics
        self.alerts = alerts
        // A dry run writes nothing at all, the metrics file included.
        self.textfile = environment.dryRun ? nil
            : config.alerts.textfile.map { MetricsTextfile(path: $0, metrics: metrics, logger: logger) }
        self.flaps = FlapTracker(
            limit: config.daemon.flapLimit, window: config.daemon.flapWindow, backoff: config.daemon.flapBackoff)
    }

    // MARK: - Inputs

    /// Reads everything and reconciles every selected function: at start, after a reload, after lost events.
    public func reconcileAll(reason: String) async {
        rescan()
        logger.info("reconciling all selected devices", metadata: [
            "reason": "\(reason)", "selected": "\(selection.selected.count)",
        ])
        await enforce(limit: nil)
        metrics.reconciled(at: WallClock.now())
        publish()
    }

    /// Handles one element of the uevent stream.
    public func handle(_ element: UdevEventStream.Element) async {
        switch element {
        case .overflow:
            alerts.raise(Alert(kind: .eventsLost, message: "uevent socket overflowed (ENOBUFS): re-reading everything",
                time: WallClock.now()))
            await reconcileAll(reason: "events lost")
        case .event(let uevent):
            eventsSeen += 1
            metrics.uevent(uevent.action)
            // Counted events must reach the textfile even when they change no binding (coalesced: ≤ 1 write/s).
            textfile?.markDirty()
            guard let event = PCIEvent(action: uevent.action, sysname: uevent.sysname, properties: uevent.properties)
            else { return }
            await handle(event)
        }
    }

    /// Handles one PCI event. Only add, remove, bind and unbind can change a binding; the others are counted.
    public func handle(_ event: PCIEvent) async {
        switch event.action {
        case .change, .move, .online, .offline:
            return
        case .add:
            record(event)
            // One device read, not a full rescan: a remove+rescan sends an add (and a bind) per function, and a
            // full sysfs scan per event competed with the reset itself for the CPU (bench remove-rescan).
            refresh(event.address)
            selection = SelectionResolver.resolve(config, topology: topology)
            guard selection.isSelected(event.address), !suspended.contains(event.address) else { return }
            logger.info("selected device added", metadata: [LogKey.device: "\(event.address)", LogKey.event: "add"])
            await enforce(limit: [event.address])
        case .remove:
            record(event)
            let wasSelected = selection.isSelected(event.address)
            topology = topology.replacing(event.address, with: nil)
            if wasSelected {
                logger.warning("selected device removed", metadata: [LogKey.device: "\(event.address)", LogKey.event: "remove"])
            }
        case .bind:
            if !selection.isSelected(event.address) {
                guard mightBeSelected(event) else { return }
                record(event)
                rescan()
                guard selection.isSelected(event.address) else { return }
            } else {
                record(event)
            }
            let previous = topology[event.address]?.driver
            if let driver = event.driver, driver != config.daemon.targetDriver {
                hostDriverGrab(event.address, driver: driver, previous: previous)
            }
            refresh(event.address)
            if suspended.contains(event.address) { return }
            await enforce(limit: [event.address])
        case .unbind:
            guard selection.isSelected(event.address) else { return }
            record(event)
            refresh(event.address)
            if suspended.contains(event.address) { return }
            await enforce(limit: [event.address])
        }
        publish()
    }

    /// Replaces the config (SIGHUP). The caller has validated it.
    public func reload(_ newConfig: Config) async {
        config = newConfig
        flaps.limit = newConfig.daemon.flapLimit
        flaps.window = newConfig.daemon.flapWindow
        flaps.backoff = newConfig.daemon.flapBackoff
        alerts.configure(command: newConfig.alerts.command, timeout: newConfig.alerts.commandTimeout)
        alertedNonViable = []
        await reconcileAll(reason: "config reloaded")
    }

    /// Leaves `addresses` alone until ``resume(_:)``: a reset is working on them.
    public func suspend(_ addresses: [PCIAddress]) { suspended.formUnion(addresses) }

    /// Ends a suspension and reconciles the functions at once.
    public func resume(_ addresses: [PCIAddress]) async {
        suspended.subtract(addresses)
        rescan()
        await enforce(limit: Set(addresses))
        publish()
    }

    /// Records the lifecycle state `status` shows for a function; `nil` clears it.
    public func setLifecycleState(_ address: PCIAddress, _ state: DeviceState?, note: String = "") {
        let old = lifecycleStates[address]?.0
        lifecycleStates[address] = state.map { ($0, note) }
        changes?.publish(.lifecycle(address, from: old, to: state))
    }

    public func setChangeFeed(_ feed: DeviceChangeFeed) { changes = feed }

    /// IOMMU groups some process holds open right now.
    public func heldGroups() -> Set<Int> { Set(VFIOHolderScanner(proc: environment.proc, sysfs: environment.sysfs).holders().keys) }

    /// A fresh read of the topology with the current config and selection, for the VM-lifecycle side.
    public func view() -> (config: Config, topology: PCITopology, selection: Selection) {
        rescan()
        return (config, topology, selection)
    }

    /// Returns once the actor has processed everything queued before the call: the watchdog's liveness probe.
    public func ping() -> Bool { true }

    /// The daemon's status report: a fresh read of sysfs with the daemon's view added. `withNames: false` skips
    /// the device names from pci.ids (parsing that file is most of the cost; the admission gate needs no names).
    public func status(withNames: Bool = true) -> StatusReport {
        rescan()
        var report = StatusReport.build(
            config: config, topology: topology, problems: [], selection: selection,
            names: withNames ? PCIIDDatabase(tree: FileTree(root: "/")) : PCIIDDatabase(), includeUnselected: true)
        report.source = "daemon"
        let now = ContinuousClock.now
        let holders = VFIOHolderScanner(proc: environment.proc, sysfs: environment.sysfs).holders()
        let backedOff = flaps.backedOff(at: now)
        for index in report.devices.indices where report.devices[index].selected {
            let device = report.devices[index]
            if let group = device.iommuGroup, let pids = holders[group] {
                report.devices[index].state = .inUse
                report.devices[index].note = "IOMMU group \(group) held open by pid " +
                    pids.sorted().map(String.init).joined(separator: ",")
            }
            if let (state, note) = lifecycleStates[device.address] {
                report.devices[index].state = state
                report.devices[index].note = note
            }
            if backedOff.contains(device.address) {
                report.devices[index].note = "flapping: host driver grabs exceeded \(config.daemon.flapLimit) in "
                    + ConfigDuration.format(config.daemon.flapWindow) + "; left alone for now"
            }
        }
        let uptime = now - started
        report.daemon = DaemonView(
            pid: getpid(),
            uptimeSeconds: Double(uptime.components.seconds) + Double(uptime.components.attoseconds) / 1e18,
            dryRun: environment.dryRun, ueventSource: environment.ueventSource, eventsSeen: eventsSeen,
            lastEvents: lastEvents,
            lastAlerts: alerts.latest.suffix(20).map {
                DaemonView.AlertRecord(time: $0.time, kind: $0.kind.rawValue, address: $0.address?.description,
                    message: $0.message)
            },
            flapping: backedOff.sorted().map(\.description))
        return report
    }

    // MARK: - Observe

    private func rescan() {
        do {
            let (fresh, problems) = try PCISysfs(sysfs: environment.sysfs).scan()
            for problem in problems { logger.warning("unreadable device: \(problem)") }
            topology = fresh
        } catch {
            logger.error("cannot read PCI devices: \(error)")
        }
        selection = SelectionResolver.resolve(config, topology: topology)
    }

    /// Re-reads one function. One that is present but cannot be read stays in the topology as unknown (never
    /// selected, and its siblings excluded), not dropped.
    private func refresh(_ address: PCIAddress) {
        do {
            topology = topology.replacing(address, with: try PCISysfs(sysfs: environment.sysfs).read(address))
        } catch {
            if environment.sysfs.exists(PCISysfs.devicePath(address)) {
                logger.warning("unreadable device: \(address): \(error)")
                topology = topology.markingUnknown(address, reason: "\(error)")
            } else {
                topology = topology.replacing(address, with: nil)
            }
        }
    }

    /// A bind on an unselected address can still concern gpumon when the selection is stale (a device whose add
    /// was missed): check it against the rules without a rescan.
    private func mightBeSelected(_ event: PCIEvent) -> Bool {
        config.gpus.contains { gpu in
            gpu.addresses.contains(event.address) || event.id.map(gpu.ids.contains) == true
                || (gpu.companions && selection.selectedAddresses.contains { $0.slot == event.address.slot })
        }
    }

    private func record(_ event: PCIEvent) {
        lastEvents.append(.init(time: WallClock.now(), action: event.action.rawValue,
            address: event.address.description, driver: event.driver))
        if lastEvents.count > 20 { lastEvents.removeFirst(lastEvents.count - 20) }
        logger.debug("uevent", metadata: [
            LogKey.event: "\(event.action.rawValue)", LogKey.device: "\(event.address)",
            LogKey.newDriver: "\(event.driver ?? "-")",
        ])
    }

    // MARK: - Plan and execute

    private func enforce(limit: Set<PCIAddress>?) async {
        let target = config.daemon.targetDriver
        var observations = Reconciler.Observations(
            backedOff: flaps.backedOff(at: .now),
            targetDriverRegistered: environment.sysfs.exists("bus/pci/drivers/\(target)"))
        var plan = Reconciler.plan(config: config, topology: topology, selection: selection,
            observations: observations, limit: limit)
        if !plan.actionable.isEmpty {
            // Only now pay for the /proc scan: the common case (all ok) never reads /proc.
            observations.inUseGroups = Set(VFIOHolderScanner(proc: environment.proc, sysfs: environment.sysfs).holders().keys)
            plan = Reconciler.plan(config: config, topology: topology, selection: selection,
                observations: observations, limit: limit)
        }
        reportNonViable(plan.nonViableGroups)
        if plan.loadTargetDriver {
            if environment.dryRun {
                logger.notice("dry run: would load module \(target)")
            } else if await environment.loadModule(target) {
                logger.info("loaded module \(target)")
            } else {
                logger.error("cannot load module \(target): selected devices cannot be bound")
                metrics.failure("load-module")
            }
        }
        let executor = ClaimExecutor(sysfs: environment.sysfs, writer: environment.writer, targetDriver: target,
            dryRun: environment.dryRun, holders: VFIOHolderScanner(proc: environment.proc, sysfs: environment.sysfs),
            writeTimeout: config.reset.stepTimeout)
        for item in plan.items where !suspended.contains(item.address) && !claiming.contains(item.address) {
            // Quarantined means left alone: no driver_override, no unbind, not even at start (docs/resets.md).
            if case .quarantined? = lifecycleStates[item.address]?.0 { continue }
            switch item.decision {
            case .keep, .leaveFlapping:
                continue
            case .leaveInUse(let group):
                if topology[item.address]?.driver != target {
                    alerts.raise(Alert(kind: .inUse, address: item.address, id: item.id,
                        oldDriver: topology[item.address]?.driver,
                        message: "\(item.address) needs \(target) but IOMMU group \(group) is held open; not touching it",
                        time: WallClock.now()))
                }
            case .setOverride:
                // The writes run off the actor (they can block in a driver); events for this function meanwhile
                // see it in `claiming` and leave it to this claim.
                claiming.insert(item.address)
                let outcome = await executor.setOverride(item.address, id: item.id)
                claiming.remove(item.address)
                report(outcome, id: item.id)
            case .claim:
                claiming.insert(item.address)
                let outcome = await executor.claim(item.address, id: item.id) { [selection] in selection.isSelected($0) }
                claiming.remove(item.address)
                report(outcome, id: item.id)
                refresh(item.address)
            }
        }
        metrics.deviceStates(stateCounts())
        changes?.publish(.enforced)
    }

    private func report(_ outcome: ClaimOutcome, id: PCIID) {
        let metadata: Logger.Metadata = [
            LogKey.device: "\(outcome.address)", LogKey.ids: "\(id)",
            LogKey.oldDriver: "\(outcome.previousDriver ?? "-")", LogKey.newDriver: "\(config.daemon.targetDriver)",
        ]
        for step in outcome.steps { logger.debug("step: \(step)", metadata: metadata) }
        switch outcome.result {
        case .dryRun:
            for step in outcome.steps {
                logger.notice("dry run: would \(step)", metadata: metadata)
            }
        case .overrideSet:
            logger.info("driver_override set", metadata: metadata)
        case .boundByOverride, .boundByNewID:
            let method = outcome.result == .boundByNewID ? "new_id" : "driver_override"
            logger.notice("bound to \(config.daemon.targetDriver) via \(method)", metadata: metadata)
            metrics.rebind(outcome.address, method: method)
        case .failed(let reason):
            metrics.failure("claim")
            alerts.raise(Alert(kind: .claimFailed, address: outcome.address, id: id, oldDriver: outcome.previousDriver,
                newDriver: config.daemon.targetDriver,
                message: "cannot bind \(outcome.address) to \(config.daemon.targetDriver): \(reason)",
                time: WallClock.now()))
        }
        for released in outcome.released {
            alerts.raise(Alert(kind: .capturedUnselected, address: released, id: id,
                message: "new_id for \(id) captured unselected \(released); released it", time: WallClock.now()))
        }
    }

    private func hostDriverGrab(_ address: PCIAddress, driver: String, previous: String?) {
        let now = ContinuousClock.now
        let id = topology[address]?.id
        metrics.hostDriverGrab(address, driver: driver)
        alerts.raise(Alert(kind: .hostDriverGrab, address: address, id: id, oldDriver: previous, newDriver: driver,
            message: "host driver \(driver) bound selected \(address)" + (id.map { " [\($0)]" } ?? ""),
            time: WallClock.now()))
        if flaps.recordGrab(address, at: now) {
            alerts.raise(Alert(kind: .flapping, address: address, id: id, newDriver: driver,
                message: "\(address) grabbed more than \(config.daemon.flapLimit) times in "
                    + "\(ConfigDuration.format(config.daemon.flapWindow)); leaving it on \(driver) for "
                    + ConfigDuration.format(config.daemon.flapBackoff),
                time: WallClock.now()))
            scheduleBackoffEnd()
        }
    }

    /// Re-checks flapping devices when their back-off ends; no timer exists while nothing is backed off.
    private func scheduleBackoffEnd() {
        backoffTimer?.cancel()
        guard let end = flaps.nextBackoffEnd(after: .now) else { return }
        backoffTimer = Task { [weak self] in
            try? await Task.sleep(until: end, clock: .continuous)
            guard !Task.isCancelled, let self else { return }
            await self.backoffEnded()
        }
    }

    private func backoffEnded() async {
        logger.info("flapping back-off ended; reconciling")
        await reconcileAll(reason: "back-off ended")
        scheduleBackoffEnd()
    }

    private func reportNonViable(_ groups: [GroupViability]) {
        for viability in groups where alertedNonViable.insert(viability.group).inserted {
            alerts.raise(Alert(kind: .groupNotViable,
                message: "IOMMU group \(viability.group) is not viable: unselected "
                    + viability.blockers.map(\.description).joined(separator: ", ")
                    + " on a host driver share it with selected devices",
                time: WallClock.now()))
        }
    }

    private func stateCounts() -> [DeviceState: Int] {
        var counts: [DeviceState: Int] = [:]
        for address in selection.selectedAddresses {
            let state = topology[address].map {
                DeviceState.observed(driver: $0.driver, targetDriver: config.daemon.targetDriver)
            } ?? .missing
            counts[state, default: 0] += 1
        }
        counts[.missing, default: 0] += selection.missing.count
        return counts
    }

    /// Writes the metrics textfile (coalesced) and tells systemd a one-line status.
    private func publish() {
        textfile?.markDirty()
        let counts = stateCounts()
        let total = counts.values.reduce(0, +)
        SystemdStatus.set("\(counts[.ok] ?? 0)/\(total) selected devices on \(config.daemon.targetDriver)")
    }
}
