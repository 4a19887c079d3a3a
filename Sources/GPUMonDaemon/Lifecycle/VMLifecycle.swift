public import GPUMonCore
public import Logging
public import ServiceLifecycle

/// Turns VM-stop signals into at most one verified reset per stop, within the budget, and answers the admission
/// gate (`gpumon hook` on `prepare begin`).
///
/// Signals for one stop arrive from up to three sources (domain log, hook, process exit), in any order and with
/// any delay. They are told apart by VM run, not by time: a stop is new exactly when the slot was started again
/// after the last stop handled (a `starting up` log header, the hook's `prepare begin`, a new process opening the
/// group); every other stop signal is the same stop. So a second run that dies seconds after the first one's
/// reset is reset and counted, and a late duplicate is never a second reset. Resets run here, off the enforcer,
/// which leaves the slot alone meanwhile and reconciles it after; different slots are handled concurrently
/// (``HandlingService``), one reset at a time per bridge.
public actor VMLifecycle {
    private var config: Config
    let enforcer: Enforcer
    private let engine: ResetEngine
    private let store: ResetBudgetStore
    private var budget: ResetBudget
    private let alerts: AlertCenter
    private let metrics: DaemonMetrics
    private let logger: Logger
    let dryRun: Bool
    /// Monotonic for intervals, wall for the persisted budget (issue 10, defect 10).
    private let clock: any DaemonClock
    /// Set when `resets.json` was damaged at start: alerted once in ``start()``.
    private var loadProblem: String?
    /// A counter ordering starts and handled stops (a clock could step; this cannot).
    private var sequence: UInt64 = 0
    /// Per slot: the sequence number of the latest start seen, and of the latest stop handled.
    private var lastStart: [PCISlot: UInt64] = [:]
    private var lastHandled: [PCISlot: UInt64] = [:]
    /// Per slot: the domain of the latest start, to name stops whose source does not know it.
    private var domains: [PCISlot: String] = [:]
    var busy: Set<PCISlot> = []
    /// Bridges a reset is working below: one reset at a time per bridge (a bus reset or a rescan there affects
    /// every slot behind it).
    private var bridgesInUse: Set<PCIAddress> = []
    /// Recent kernel-log lines about PCI devices (from /dev/kmsg), for the stuck check.
    private var kernelLines: [String] = []
    /// Stops claimed by ``submit(_:)``, handled by ``HandlingService`` (concurrently per slot).
    private let work: AsyncStream<(ReleaseSignal, [PCISlot])>
    private let workInput: AsyncStream<(ReleaseSignal, [PCISlot])>.Continuation

    public init(config: Config, enforcer: Enforcer, engine: ResetEngine, store: ResetBudgetStore, alerts: AlertCenter,
        metrics: DaemonMetrics, logger: Logger, dryRun: Bool, clock: any DaemonClock = SystemClock()) {
        self.config = config
        self.enforcer = enforcer
        self.engine = engine
        self.store = store
        self.alerts = alerts
        self.metrics = metrics
        self.logger = logger
        self.dryRun = dryRun
        self.clock = clock
        let loaded = store.load(now: clock.wall())
        self.budget = loaded.budget
        self.loadProblem = loaded.problem
        if let problem = loaded.problem { logger.error("\(problem)") }
        (work, workInput) = AsyncStream.makeStream()
    }

    public func reload(_ newConfig: Config) { config = newConfig }

    /// Marks quarantined slots (every function) in `status`, so the enforcer leaves them alone from its first
    /// reconcile on; repairs a reset the previous daemon was killed in; alerts a damaged reset history. Runs
    /// before the enforcer's first reconcile.
    public func start() async {
        let selection = await enforcer.view().selection
        if let problem = loadProblem {
            alerts.raise(Alert(kind: .quarantined, message: problem, time: WallClock.now()))
            loadProblem = nil
        }
        if let repaired = await engine.repairInterruptedReset(isSelected: { selection.isSelected($0) }) {
            alerts.raise(Alert(kind: .resetRepaired, message: repaired.summary, time: WallClock.now()))
            let problems = await engine.verify(repaired.functions.filter { selection.isSelected($0) })
            if let primary = repaired.functions.sorted().first, !problems.isEmpty {
                quarantineAfterFailure(primary, functions: repaired.functions,
                    reason: "left unhealthy by an interrupted reset: " + problems.joined(separator: "; "))
            }
        }
        for (key, quarantine) in budget.quarantined {
            guard let address = PCIAddress(key) else { continue }
            let slotFunctions = Set([address] + selection.selectedAddresses.filter { $0.slot == address.slot })
            for function in slotFunctions.sorted() {
                await enforcer.setLifecycleState(function, .quarantined, note: quarantine.reason)
            }
        }
    }

    /// Quarantines a slot a reset left gone or unhealthy: nothing keeps acting on it until `gpumon clear`.
    private func quarantineAfterFailure(_ primary: PCIAddress, functions: [PCIAddress], reason: String) {
        if !dryRun {
            budget.quarantine(primary, at: clock.wall(), reason: reason)
            _ = persist()
        }
        alerts.raise(Alert(kind: .quarantined, address: primary,
            message: "\(primary) quarantined: \(reason); left alone until `gpumon clear \(primary)`",
            time: WallClock.now()))
    }

    /// Remembers a kernel log line (vfio/PCI messages) for the next stuck check.
    public func kernelLog(_ line: String) {
        kernelLines.append(line)
        if kernelLines.count > 200 { kernelLines.removeFirst(kernelLines.count - 200) }
    }

    /// One VM start or stop signal, handled before returning (tests, `gpumon reset` without a daemon). The daemon's
    /// sources use ``submit(_:)``, which does not wait for the reset.
    public func release(_ signal: ReleaseSignal) async {
        let slots = claim(signal)
        await handle(signal, slots: slots)
    }

    /// One VM start or stop signal: decided at once (so a gate question asked right after sees the stop as due),
    /// handled by ``HandlingService``.
    public func submit(_ signal: ReleaseSignal) {
        let slots = claim(signal)
        // A stop with no new slot still goes through: its "same stop" line is logged by the handling side.
        if !slots.isEmpty || !sameStop.isEmpty { workInput.yield((signal, slots)) }
    }

    /// The VM-run identity, with no suspension point: records a start, or returns the slots for which this stop
    /// is a new one and marks them busy.
    func claim(_ signal: ReleaseSignal) -> [PCISlot] {
        let slots = Set(signal.addresses.map(\.slot)).sorted { $0.description < $1.description }
        if signal.kind == .started || signal.includesStart {
            sequence += 1
            for slot in slots {
                lastStart[slot] = sequence
                if let domain = signal.domain { domains[slot] = domain }
            }
            if signal.kind == .started {
                logger.debug("VM started", metadata: [
                    "slots": "\(slots.map(\.description))", "source": "\(signal.source.rawValue)",
                    "domain": "\(signal.domain ?? "-")",
                ])
                return []
            }
        }
        metrics.release(source: signal.source.rawValue)
        var new: [PCISlot] = []
        for slot in slots {
            let startedSinceHandled = lastHandled[slot].map { handled in (lastStart[slot] ?? 0) > handled } ?? true
            guard !busy.contains(slot), startedSinceHandled else {
                sameStop.append((slot, signal))
                continue
            }
            sequence += 1
            lastHandled[slot] = sequence
            busy.insert(slot)
            new.append(slot)
        }
        return new
    }

    /// Stop signals found to be the same stop, logged by the next ``handle(_:slots:)`` once it knows which slots
    /// gpumon selects (claim cannot ask the enforcer without a suspension point).
    private var sameStop: [(PCISlot, ReleaseSignal)] = []

    /// Handles the slots ``claim(_:)`` gave for `signal`, concurrently.
    func handle(_ signal: ReleaseSignal, slots: [PCISlot]) async {
        let (config, topology, selection) = await enforcer.view()
        let selectedSlots = Set(selection.selectedAddresses.map(\.slot))
        for (slot, same) in sameStop where selectedSlots.contains(slot) {
            logger.info("same stop, already handled", metadata: [
                LogKey.device: "\(slot)", "source": "\(same.source.rawValue)",
                "domain": "\(same.domain ?? domains[slot] ?? "-")",
            ])
        }
        sameStop.removeAll()
        await withTaskGroup(of: Void.self) { group in
            for slot in slots {
                let functions = selection.selectedAddresses.filter { $0.slot == slot }
                guard !functions.isEmpty else {
                    busy.remove(slot)
                    continue
                }
                group.addTask {
                    await self.handleStop(slot: slot, functions: functions, signal: signal, config: config,
                        topology: topology)
                    await self.finished(slot)
                }
            }
        }
    }

    private func finished(_ slot: PCISlot) { busy.remove(slot) }

    /// Runs the stops ``submit(_:)`` queued, each slot's in its own child task.
    public struct HandlingService: Service {
        let lifecycle: VMLifecycle
        public init(lifecycle: VMLifecycle) { self.lifecycle = lifecycle }

        public func run() async throws {
            let lifecycle = self.lifecycle
            await withDiscardingTaskGroup { group in
                for await (signal, slots) in lifecycle.work.cancelOnGracefulShutdown() {
                    group.addTask { await lifecycle.handle(signal, slots: slots) }
                }
            }
        }
    }

    // MARK: - The admission gate

    /// `gate`: whether a VM about to start (`prepare begin`, incoming `migrate begin`) may have `addresses`.
    /// Waits, up to `[libvirt] gate_timeout`, while a reset runs or is due or a claim is due; then answers.
    /// `ok` means allowed; a refusal's `error` is the one line the hook prints. A VM allowed through counts as a
    /// start of its slots (the VM-run identity).
    public func gate(domain: String, addresses: [PCIAddress]) async -> ControlResponse {
        let deadline = ContinuousClock.now + config.libvirt.gateTimeout
        let started = ContinuousClock.now
        var waited = false
        while true {
            let verdicts = await gateVerdicts(addresses)
            let refusal = verdicts.first { if case .refuse = $0.1 { return true } else { return false } }
            let waiting = verdicts.first { $0.1.isWait }
            let metadata: Logger.Metadata = ["domain": "\(domain)"]
            if let (address, verdict) = refusal ?? (ContinuousClock.now >= deadline ? waiting : nil) {
                let line: String
                switch verdict {
                case .refuse(let reason, let fix):
                    line = GateDecision.refusalLine(address: address, domain: domain, reason: reason, fix: fix)
                case .wait(let reason):
                    line = GateDecision.refusalLine(address: address, domain: domain,
                        reason: "still not ready after gate_timeout \(ConfigDuration.format(config.libvirt.gateTimeout)) (\(reason))",
                        fix: "`gpumon status \(address)`; start the VM again once it is ok")
                case .ready:
                    line = ""
                }
                if config.libvirt.gate == .warn {
                    logger.warning("gate (warn): allowing the start anyway: \(line)", metadata: metadata)
                    startedThroughGate(domain: domain, addresses: addresses)
                    return ControlResponse(ok: true, lines: ["warning: " + line])
                }
                logger.warning("gate refused a VM start: \(line)", metadata: metadata)
                // The fleet's "gate refusals" alert reads this counter; the reason label stays a short stable word.
                if case .wait = verdict {
                    metrics.gateRefusal(address, reason: "timeout")
                } else {
                    metrics.gateRefusal(address, reason: "not-ready")
                }
                return ControlResponse(ok: false, error: line)
            }
            if waiting == nil {
                let ms = Int(started.duration(to: .now).components.seconds * 1000
                    + started.duration(to: .now).components.attoseconds / 1_000_000_000_000_000)
                if waited { logger.notice("gate: ready after waiting \(ms) ms", metadata: metadata) }
                startedThroughGate(domain: domain, addresses: addresses)
                return ControlResponse(ok: true, lines: waited ? ["ready after waiting \(ms) ms"] : ["ready"])
            }
            if !waited, let (address, verdict) = waiting, case .wait(let reason) = verdict {
                logger.notice("gate: \(address) not ready (\(reason)); the start waits", metadata: metadata)
            }
            waited = true
            // The answer changes when a reset ends or the enforcer claims a function, both inside this process;
            // re-reading the state every 50 ms bounds the extra latency without a channel between them.
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func startedThroughGate(domain: String, addresses: [PCIAddress]) {
        _ = claim(ReleaseSignal(source: .hook, domain: domain, addresses: addresses, reason: "prepare begin",
            kind: .started))
    }

    /// The gate's verdict for each address, from the daemon's status and this actor's state.
    func gateVerdicts(_ addresses: [PCIAddress]) async -> [(PCIAddress, GateDecision.Verdict)] {
        let report = await enforcer.status(withNames: false)
        let flapping = Set(report.daemon?.flapping ?? [])
        return addresses.map { address in
            let device = report.devices.first { $0.address == address }
            let quarantine = budget.quarantined.first { PCIAddress($0.key)?.slot == address.slot }?.value
            let lifecycle = GateDecision.Lifecycle(
                resetRunningOrDue: busy.contains(address.slot),
                quarantine: quarantine.map(\.reason),
                claimable: !dryRun && !flapping.contains(address.description))
            return (address, GateDecision.decide(address: address, device: device, lifecycle: lifecycle))
        }
    }

    // MARK: - Handling a stop

    private func handleStop(slot: PCISlot, functions: [PCIAddress], signal: ReleaseSignal, config: Config,
        topology: PCITopology) async
    {
        let domain = signal.domain ?? domains[slot] ?? "-"
        let metadata: Logger.Metadata = [
            LogKey.device: "\(slot)", "source": "\(signal.source.rawValue)", "domain": "\(domain)",
            "reason": "\(signal.reason ?? "-")",
        ]
        logger.notice("VM released the slot", metadata: metadata)
        // The log line or the hook can precede QEMU closing the group by a moment.
        let groups = Set(functions.compactMap { topology[$0]?.iommuGroup })
        if !(await waitForGroupsFree(groups, timeout: .seconds(10))) {
            // The VM (or whoever holds the group) still runs: this was not its stop, which is still to come and
            // must count as new (lab: a process still holding the group after a hook stop was never reset).
            lastHandled[slot] = nil
            alerts.raise(Alert(kind: .inUse, address: functions.first,
                message: "slot \(slot) was released by \(domain) (\(signal.source.rawValue)) but its group is still held open; not resetting",
                time: WallClock.now()))
            return
        }
        let fresh = await enforcer.view().topology
        let assessments = functions.map {
            StuckAssessment.assess(address: $0, device: fresh[$0], logLines: signal.errorLines + kernelLines)
        }
        // Kernel lines count for one stop only.
        kernelLines.removeAll { line in functions.contains { line.contains($0.description) } }
        let rule = config.gpus.firstIndex { gpu in
            functions.contains { address in gpu.addresses.contains(address) || fresh[address].map { gpu.ids.contains($0.id) } == true }
        }.map { config.gpus[$0] } ?? Config.GPU()
        let primary = functions.compactMap { fresh[$0] }.first { $0.pciClass.isDisplay } ?? functions.compactMap { fresh[$0] }.first
        let decision = ResetDecision.decide(policy: rule.resetAfterStop, hasFLR: primary?.hasFLR ?? false,
            stuck: assessments)
        let stuck = assessments.filter(\.isStuck)
        if !stuck.isEmpty {
            alerts.raise(Alert(kind: .stuck, address: stuck[0].address, id: fresh[stuck[0].address]?.id,
                message: "\(slot) stuck after \(domain) stopped: " + stuck.flatMap(\.reasons).joined(separator: "; "),
                time: WallClock.now()))
        }
        switch decision {
        case .skip(let why):
            logger.notice("no reset: \(why)", metadata: metadata)
            for assessment in stuck { await enforcer.setLifecycleState(assessment.address, .stuck, note: why) }
        case .reset(let why):
            _ = await reset(functions: functions, config: config, topology: fresh, rule: rule, method: nil,
                why: "\(domain) stopped; \(why)", operator: false)
        }
    }

    /// Resets a slot within the budget. `operator` resets (`gpumon reset`) skip the interval and count checks but
    /// not a quarantine.
    public func reset(functions: [PCIAddress], config: Config, topology: PCITopology, rule: Config.GPU,
        method: ResetMethod?, why: String, operator: Bool) async -> ResetEngine.Report?
    {
        guard let primary = functions.sorted().first else { return nil }
        let now = clock.wall()
        if budget.normalize(now: now) {
            logger.warning("the wall clock stepped backwards: reset history entries in the future moved to now")
            _ = persist()
        }
        switch budget.verdict(for: primary, now: now, maxResets: config.reset.maxResets, window: config.reset.window,
            minInterval: config.reset.minInterval)
        {
        case .quarantined(let quarantine):
            let text = "not resetting \(primary): quarantined since \(Int(quarantine.since)) (\(quarantine.reason)); "
                + "gpumon clear \(primary) to lift it"
            logger.warning("\(text)")
            return nil
        case .tooSoon(let until) where !`operator`:
            let text = "not resetting \(primary): the last reset was less than "
                + "\(ConfigDuration.format(config.reset.minInterval)) ago (next allowed in \(Int(until - now))s)"
            logger.warning("\(text)")
            for function in functions { await enforcer.setLifecycleState(function, .stuck, note: "reset deferred: min_interval") }
            return nil
        case .exhausted where !`operator`:
            let reason = "\(config.reset.maxResets) resets within \(ConfigDuration.format(config.reset.window))"
            if !dryRun {
                budget.quarantine(primary, at: now, reason: reason)
                _ = persist()
            }
            alerts.raise(Alert(kind: .quarantined, address: primary, id: topology[primary]?.id,
                message: "\(primary) quarantined: \(reason); left alone until `gpumon clear \(primary)`",
                time: WallClock.now()))
            for function in functions { await enforcer.setLifecycleState(function, .quarantined, note: reason) }
            return nil
        default:
            break
        }
        let devices = functions.compactMap { topology[$0] }
        let plan = ResetPlanner.plan(functions: devices, methods: rule.resetMethods, topology: topology, only: method)
        logger.notice("resetting \(functions.map(\.description).joined(separator: ", ")): \(why)", metadata: [
            "plan": "\(plan.steps.map(\.description).joined(separator: " | "))",
            "skipped": "\(plan.skipped.joined(separator: " | "))",
        ])
        if !dryRun {
            budget.record(primary, at: now, window: config.reset.window)
            // Fail closed: an attempt that cannot be recorded is not made (a crash loop would reset forever).
            if !persist() {
                alerts.raise(Alert(kind: .resetFailed, address: primary, id: topology[primary]?.id,
                    message: "not resetting \(primary): the reset history cannot be saved", time: WallClock.now()))
                return nil
            }
        }
        let bridge = topology[primary]?.parentBridge
        if let bridge {
            // The actor is reentrant across awaits: another slot's reset may hold this bridge.
            while bridgesInUse.contains(bridge) { try? await Task.sleep(for: .milliseconds(20)) }
            bridgesInUse.insert(bridge)
        }
        await enforcer.suspend(functions)
        for function in functions { await enforcer.setLifecycleState(function, .resetting, note: why) }
        let selection = await enforcer.view().selection
        let report = await engine.run(plan, functions: functions) { selection.isSelected($0) }
        await enforcer.resume(functions)
        if let bridge { bridgesInUse.remove(bridge) }
        for step in report.steps {
            let stepMetadata: Logger.Metadata = [LogKey.device: "\(primary)", LogKey.step: "\(step.step.method)"]
            for write in step.writes { logger.debug("reset step: \(write)", metadata: stepMetadata) }
            if dryRun {
                for write in step.writes { logger.notice("dry run: would \(write)", metadata: stepMetadata) }
            } else {
                let text = "reset \(step.step.method) \(step.succeeded ? "succeeded" : "failed") in "
                    + "\(Int(step.seconds * 1000)) ms: \(step.detail)"
                logger.log(level: step.succeeded ? .notice : .warning, "\(text)", metadata: stepMetadata)
                metrics.reset(primary, method: step.step.method, succeeded: step.succeeded, seconds: step.seconds)
            }
        }
        for released in report.released {
            alerts.raise(Alert(kind: .capturedUnselected, address: released,
                message: "a dynamic ID during the reset of \(primary) captured unselected \(released); released it",
                time: WallClock.now()))
        }
        if report.succeeded || dryRun {
            for function in functions { await enforcer.setLifecycleState(function, nil) }
        } else if let held = report.inUse {
            alerts.raise(Alert(kind: .inUse, address: primary, id: topology[primary]?.id,
                message: "reset of \(primary) stopped: \(held)", time: WallClock.now()))
            for function in functions { await enforcer.setLifecycleState(function, nil) }
        } else if !report.problemsAfter.isEmpty {
            // Every failure ends with the slot healthy or quarantined: this one is not healthy.
            let reason = "reset failed and left the slot unhealthy: " + report.problemsAfter.joined(separator: "; ")
            quarantineAfterFailure(primary, functions: functions, reason: reason)
            for function in functions { await enforcer.setLifecycleState(function, .quarantined, note: reason) }
        } else {
            let detail = report.steps.map { "\($0.step.method): \($0.detail)" } + report.skipped
            alerts.raise(Alert(kind: .resetFailed, address: primary, id: topology[primary]?.id,
                message: "every reset method failed for \(primary): " + detail.joined(separator: "; "),
                time: WallClock.now()))
            for function in functions { await enforcer.setLifecycleState(function, .stuck, note: "reset failed") }
        }
        return report
    }

    /// `gpumon clear`: lifts a quarantine and forgets the reset history. A quarantine is the slot's (kept under its
    /// first function, shown by `status` on every function), so naming any function of the slot clears the slot.
    public func clear(_ addresses: [PCIAddress]) async -> [PCIAddress] {
        let selection = await enforcer.view().selection
        let slots = Set(addresses.map(\.slot))
        let functions = Set(addresses + selection.selectedAddresses.filter { slots.contains($0.slot) }).sorted()
        var clearedSlots: Set<PCISlot> = []
        for function in functions where budget.clear(function) { clearedSlots.insert(function.slot) }
        for function in functions where clearedSlots.contains(function.slot) && !busy.contains(function.slot) {
            await enforcer.setLifecycleState(function, nil)
        }
        if !clearedSlots.isEmpty { _ = persist() }
        return addresses.filter { clearedSlots.contains($0.slot) }
    }

    @discardableResult
    private func persist() -> Bool {
        do {
            try store.save(budget)
            return true
        } catch {
            logger.error("cannot save the reset history: \(error)")
            return false
        }
    }

    private func waitForGroupsFree(_ groups: Set<Int>, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            let held = await enforcer.heldGroups()
            if held.isDisjoint(with: groups) { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}

extension VMLifecycle {
    /// `gpumon reset ADDR…`: resets the slots of the given selected functions now, within a quarantine but
    /// regardless of the interval and count limits.
    public func operatorReset(_ addresses: [PCIAddress], method: ResetMethod?, dryRun requestedDryRun: Bool)
        async -> ControlResponse
    {
        let (config, topology, selection) = await enforcer.view()
        var lines: [String] = []
        var ok = true
        for slot in Set(addresses.map(\.slot)).sorted(by: { $0.description < $1.description }) {
            let functions = selection.selectedAddresses.filter { $0.slot == slot }
            guard !functions.isEmpty else {
                lines.append("\(slot): not selected by the config; gpumon resets only selected devices")
                ok = false
                continue
            }
            let held = await enforcer.heldGroups()
            if let group = functions.compactMap({ topology[$0]?.iommuGroup }).first(where: held.contains) {
                lines.append("\(slot): IOMMU group \(group) is held open by a process; not resetting a device in use")
                ok = false
                continue
            }
            let rule = config.gpus.first { gpu in
                functions.contains { a in gpu.addresses.contains(a) || topology[a].map { gpu.ids.contains($0.id) } == true }
            } ?? Config.GPU()
            if requestedDryRun && !dryRun {
                let plan = ResetPlanner.plan(functions: functions.compactMap { topology[$0] },
                    methods: rule.resetMethods, topology: topology, only: method)
                lines.append("\(slot): dry run: would try " + (plan.steps.isEmpty ? "nothing"
                    : plan.steps.map(\.description).joined(separator: ", then ")))
                lines.append(contentsOf: plan.skipped.map { "\(slot): skipped \($0)" })
                continue
            }
            guard busy.insert(slot).inserted else {
                lines.append("\(slot): a reset is already running")
                ok = false
                continue
            }
            let report = await reset(functions: functions, config: config, topology: topology, rule: rule,
                method: method, why: "operator request", operator: true)
            busy.remove(slot)
            guard let report else {
                lines.append("\(slot): not reset (quarantined; see gpumon status, gpumon clear)")
                ok = false
                continue
            }
            for step in report.steps {
                lines.append("\(slot): \(step.step.method): \(step.succeeded ? "ok" : "failed") in "
                    + "\(Int(step.seconds * 1000)) ms: \(step.detail)")
            }
            lines.append(contentsOf: report.skipped.map { "\(slot): skipped \($0)" })
            if !report.succeeded { ok = false }
        }
        return ControlResponse(ok: ok, error: ok ? nil : "not every reset succeeded", lines: lines)
    }
}
