public import GPUMonCore
public import HostFS
import SystemPackage

/// Runs a reset plan step by step until one leaves every function of the slot healthy and back on the target
/// driver, verifying after each step. The steps never hand a function to a host driver: kernel resets and the
/// VFIO hot reset keep it bound; remove+rescan is refused unless the target driver wins the rescan.
///
/// Safety rules it keeps (docs/resets.md):
/// - holders are re-checked before every destructive write (a VM may start during a reset that takes minutes);
///   a held slot ends the reset at once, whatever method is next;
/// - a kernel-method reset holds the IOMMU group open while it runs, so no VMM can open it meanwhile;
/// - every write runs off the cooperative pool with a timeout (``StepRecorder``);
/// - a remove+rescan journals durably before its first write and repairs itself in-process on any failure;
/// - after a failed reset the slot is checked: ``Report/problemsAfter`` says what is left wrong, for the caller
///   to quarantine.
public struct ResetEngine: Sendable {
    /// Holding an IOMMU group open for the length of a step.
    public enum GroupHold: Sendable {
        /// Held; call to release.
        case held(@Sendable () -> Void)
        /// Another process has it open (`EBUSY`): the device is in use.
        case busy(String)
        /// Cannot be held here (no `/dev/vfio`, a test): the re-checks still run.
        case unavailable
    }

    public struct Environment: Sendable {
        public var sysfs: FileTree
        public var proc: FileTree
        public var writer: any AttributeWriter
        public var targetDriver: String
        public var stateDirectory: String
        public var dryRun: Bool
        /// How long one kernel call (a `reset` write, a hot reset) may take before the next method is tried.
        public var stepTimeout: Duration
        /// How long the functions may take to come back healthy after a step.
        public var settleTimeout: Duration
        /// The VFIO hot reset (a seam for tests): the device's group, the device, every group it may touch → an
        /// error message, or `nil` on success.
        public var hotReset: @Sendable (Int, String, [Int]) -> String?
        /// Host-driver modules that registered before the target driver and match a modalias.
        public var earlierDrivers: @Sendable (String) -> [String]
        /// Opens `/dev/vfio/<group>` for the length of a step (``VFIOGroupHold`` in production).
        public var holdGroup: @Sendable (Int) -> GroupHold = { _ in .unavailable }
        /// Wall-clock seconds for the journal's timestamp.
        public var wallClock: @Sendable () -> Double = { WallClock.now() }

        public init(sysfs: FileTree, proc: FileTree, writer: any AttributeWriter, targetDriver: String,
            stateDirectory: String, dryRun: Bool, stepTimeout: Duration, settleTimeout: Duration,
            hotReset: @escaping @Sendable (Int, String, [Int]) -> String?,
            earlierDrivers: @escaping @Sendable (String) -> [String]) {
            self.sysfs = sysfs
            self.proc = proc
            self.writer = writer
            self.targetDriver = targetDriver
            self.stateDirectory = stateDirectory
            self.dryRun = dryRun
            self.stepTimeout = stepTimeout
            self.settleTimeout = settleTimeout
            self.hotReset = hotReset
            self.earlierDrivers = earlierDrivers
        }
    }

    /// How one step went.
    public struct StepReport: Sendable, Equatable {
        public let step: ResetStep
        public let succeeded: Bool
        public let detail: String
        public let seconds: Double
        public let writes: [String]
    }

    /// The whole reset.
    public struct Report: Sendable, Equatable {
        public var steps: [StepReport] = []
        public var skipped: [String] = []
        /// Set when a holder appeared: the reset stopped there, no further method was tried.
        public var inUse: String?
        /// After a failed reset: what is still wrong with the slot (gone, off the bus, on another driver). Empty
        /// when it is present and healthy on the target driver anyway.
        public var problemsAfter: [String] = []
        /// Unselected functions a dynamic ID captured and that were handed back.
        public var released: [PCIAddress] = []
        public var succeeded: Bool { steps.last?.succeeded == true && inUse == nil }
        public var method: String? { steps.last(where: \.succeeded)?.step.method }
    }

    public let environment: Environment

    public init(environment: Environment) { self.environment = environment }

    private var scanner: VFIOHolderScanner { VFIOHolderScanner(proc: environment.proc, sysfs: environment.sysfs) }

    /// Runs `plan` for the slot whose selected functions are `functions`.
    public func run(_ plan: ResetPlanner.Plan, functions: [PCIAddress], isSelected: @escaping @Sendable (PCIAddress) -> Bool)
        async -> Report
    {
        var report = Report(skipped: plan.skipped)
        let captures = CaptureLog()
        for step in plan.steps {
            let started = ContinuousClock.now
            let recorder = StepRecorder(sysfs: environment.sysfs, writer: environment.writer,
                dryRun: environment.dryRun, timeout: environment.stepTimeout)
            var detail: String
            var ok: Bool
            do {
                try await execute(step, recorder: recorder, isSelected: isSelected, captures: captures)
                if environment.dryRun {
                    (ok, detail) = (true, "dry run")
                } else {
                    let problems = await settle(functions, recorder: recorder, isSelected: isSelected)
                    (ok, detail) = problems.isEmpty ? (true, "healthy on \(environment.targetDriver)")
                        : (false, "not healthy after the reset: " + problems.joined(separator: "; "))
                }
            } catch let held as InUse {
                (ok, detail) = (false, held.description)
                report.inUse = held.description
            } catch {
                (ok, detail) = (false, "\(error)")
            }
            let elapsed = ContinuousClock.now - started
            report.steps.append(StepReport(step: step, succeeded: ok, detail: detail, seconds: elapsed.seconds,
                writes: recorder.steps))
            if ok || report.inUse != nil { break }
        }
        report.released = captures.released
        if !report.succeeded && !environment.dryRun {
            report.problemsAfter = await verify(functions)
        }
        return report
    }

    /// Why a step failed.
    struct StepError: Error, CustomStringConvertible {
        let description: String
    }

    /// A process holds the slot: the reset ends here.
    struct InUse: Error, CustomStringConvertible {
        let description: String
    }

    /// The functions' IOMMU groups and IOMMUFD device nodes must be free right now. Called before every
    /// destructive write: a VM can start between the check at the beginning of a reset and its third step.
    func checkNotHeld(_ functions: [PCIAddress]) throws {
        let snapshot = scanner.snapshot()
        var held: [String] = []
        for function in functions {
            if let pids = snapshot.devices[function], !pids.isEmpty {
                held.append("\(function) through IOMMUFD by pid " + pids.sorted().map(String.init).joined(separator: ","))
            }
            let group = ((try? environment.sysfs.readLinkName("\(PCISysfs.devicePath(function))/iommu_group")) ?? nil)
                .flatMap { Int($0) }
            if let group, let pids = snapshot.groups[group], !pids.isEmpty {
                held.append("group \(group) held open by pid " + pids.sorted().map(String.init).joined(separator: ","))
            }
        }
        if !held.isEmpty { throw InUse(description: "in use: " + Array(Set(held)).sorted().joined(separator: "; ")) }
    }

    private func execute(_ step: ResetStep, recorder: StepRecorder, isSelected: @escaping @Sendable (PCIAddress) -> Bool,
        captures: CaptureLog) async throws
    {
        let sysfs = environment.sysfs
        switch step {
        case .kernel(let method, let address):
            let dir = PCISysfs.devicePath(address)
            let previous = try sysfs.readString("\(dir)/reset_method")
            try checkNotHeld([address])
            // Hold the group for the length of the reset: a VMM opening it now would get EBUSY instead of a
            // device that is being reset under it.
            var release: (@Sendable () -> Void)?
            if !environment.dryRun,
                let group = ((try? sysfs.readLinkName("\(dir)/iommu_group")) ?? nil).flatMap({ Int($0) })
            {
                switch environment.holdGroup(group) {
                case .held(let done): release = done
                case .busy(let why): throw InUse(description: "in use: \(why)")
                case .unavailable: break
                }
            }
            defer { release?() }
            try await recorder.write(method, "\(dir)/reset_method")
            do {
                try checkNotHeld([address])
                try await recorder.write("1", "\(dir)/reset")
            } catch {
                // Put the kernel's method list back the way it was, whatever happened.
                try? await recorder.write(previous.flatMap { $0.isEmpty ? nil : $0 } ?? "default", "\(dir)/reset_method")
                throw error
            }
            try? await recorder.write(previous.flatMap { $0.isEmpty ? nil : $0 } ?? "default", "\(dir)/reset_method")
        case .slot(let functions, let groups):
            for function in functions {
                let driver = try sysfs.readLinkName("\(PCISysfs.devicePath(function))/driver")
                guard driver == environment.targetDriver else {
                    throw StepError(description: "\(function) is on \(driver ?? "no driver"), not \(environment.targetDriver)")
                }
            }
            try checkNotHeld(functions)
            let holders = scanner.holders()
            for group in groups {
                guard let pids = holders[group], !pids.isEmpty else { continue }
                throw InUse(description: "in use: group \(group) is held open by pid "
                    + pids.sorted().map(String.init).joined(separator: ","))
            }
            guard let device = functions.sorted().first,
                let group = try PCISysfs(sysfs: sysfs).read(device)?.iommuGroup
            else { return }
            // The hot reset opens the group itself (and fails with EBUSY if a VMM has it): it is its own hold.
            recorder.steps.append("VFIO_DEVICE_PCI_HOT_RESET via /dev/vfio/\(group) (\(device))")
            if environment.dryRun { return }
            let hotReset = environment.hotReset
            switch await BlockingCall.run(timeout: environment.stepTimeout, { hotReset(group, device.description, groups) }) {
            case .timedOut: throw StepError(description: "hot reset did not return within \(environment.stepTimeout)")
            case .finished(let error?): throw StepError(description: error)
            case .finished(nil): break
            }
        case .removeRescan(let functions, let bridge):
            try await removeRescan(functions, bridge: bridge, recorder: recorder, isSelected: isSelected,
                captures: captures)
        }
    }

    private func removeRescan(
        _ functions: [PCIAddress], bridge: PCIAddress, recorder: StepRecorder,
        isSelected: @escaping @Sendable (PCIAddress) -> Bool, captures: CaptureLog
    ) async throws {
        let sysfs = environment.sysfs
        let target = environment.targetDriver
        var ids: [PCIID] = []
        for function in functions {
            let dir = PCISysfs.devicePath(function)
            if let modalias = try sysfs.readString("\(dir)/modalias") {
                let earlier = environment.earlierDrivers(modalias)
                guard earlier.isEmpty else {
                    throw StepError(description: "refused: \(earlier.joined(separator: ", ")) registered before "
                        + "\(target) and would take \(function) when it reappears; load \(target) first "
                        + "(gpumon setup adds the softdep)")
                }
            }
            let reader = AttributeReader(sysfs: sysfs, directory: dir)
            if let vendor: UInt16 = try reader.hex("vendor"), let device: UInt16 = try reader.hex("device") {
                let id = PCIID(vendor: vendor, device: device)
                if !ids.contains(id) { ids.append(id) }
            }
        }
        guard let bridgeDir = try sysfs.canonicalPath(PCISysfs.devicePath(bridge)),
            let bus = try sysfs.list("\(bridgeDir)/pci_bus")?.first
        else { throw StepError(description: "bridge \(bridge) has no secondary bus in sysfs") }
        let busDirectory = "\(bridgeDir)/pci_bus/\(bus)"
        // Holders are checked right before each `remove` (the destructive writes); a holder found there is
        // handled by the repair like any other failure (the dynamic IDs come out again).
        let texts = ids.map { "\($0.vendorHex) \($0.deviceHex)" }
        // Functions a dynamic ID would capture: unselected, unbound, same ID (a second card's console GPU).
        let exposed = ClaimExecutor.unboundUnselected(sysfs: sysfs, matching: Set(ids), isSelected: isSelected)
        var journal = ResetJournal(method: "remove-rescan", functions: functions.map(\.description),
            bridge: bridge.description, busDirectory: busDirectory, addedIDs: texts, preexistingIDs: [],
            unboundUnselected: exposed.map(\.description), targetDriver: target, started: environment.wallClock())
        if environment.dryRun {
            for text in texts { try await recorder.write(text, "bus/pci/drivers/\(target)/new_id") }
            for function in functions { try await recorder.write("1", "\(PCISysfs.devicePath(function))/remove") }
            try await recorder.write("1", "\(busDirectory)/rescan")
            for text in texts { try await recorder.write(text, "bus/pci/drivers/\(target)/remove_id") }
            return
        }
        // Durable before the first write, new_id included: whatever happens next, the repair knows what to undo.
        do {
            try journal.save(stateDirectory: environment.stateDirectory)
        } catch {
            throw StepError(description: "refused: cannot write the reset journal (\(error)); nothing was touched")
        }
        do {
            // A dynamic ID makes the target driver match the new device objects before any host driver can.
            for text in texts {
                do {
                    try await recorder.write(text, "bus/pci/drivers/\(target)/new_id")
                } catch let error as FSError where error.code == .rejected {
                    journal.preexistingIDs = (journal.preexistingIDs ?? []) + [text]  // already in the table
                }
            }
            if journal.preexistingIDs?.isEmpty == false { try journal.save(stateDirectory: environment.stateDirectory) }
            for function in functions {
                try checkNotHeld([function])
                try await recorder.write("1", "\(PCISysfs.devicePath(function))/remove")
            }
            try await waitUntil("\(functions.count) function(s) gone") {
                functions.allSatisfy { !sysfs.exists(PCISysfs.devicePath($0)) }
            }
            try await recorder.write("1", "\(busDirectory)/rescan")
            try await waitUntil("\(functions.count) function(s) back") {
                functions.allSatisfy { sysfs.exists(PCISysfs.devicePath($0)) }
            }
        } catch {
            // Any failure after the journal: rescan, reclaim, remove the IDs now, not at the next start.
            let repaired = await repair(journal, recorder: recorder, isSelected: isSelected, captures: captures)
            let text = "\(error); repaired in-process: " + repaired.joined(separator: "; ")
            if error is InUse { throw InUse(description: text) }
            throw StepError(description: text)
        }
        let repaired = await repair(journal, recorder: recorder, isSelected: isSelected, captures: captures)
        recorder.steps.append(contentsOf: repaired.map { "finish: \($0)" })
    }

    /// Brings a remove+rescan to a safe end from its journal: rescans the bridge if a function is missing (with
    /// the dynamic IDs in place, so the target driver wins), puts the functions on the target driver with
    /// `driver_override`, removes the dynamic IDs, hands back captured unselected functions, and deletes the
    /// journal. Used at the end of every remove+rescan, after a failure in one, and at start after a crash.
    func repair(_ journal: ResetJournal, recorder: StepRecorder, isSelected: @escaping @Sendable (PCIAddress) -> Bool,
        captures: CaptureLog) async -> [String]
    {
        let sysfs = environment.sysfs
        let target = journal.targetDriver
        let functions = journal.functions.compactMap(PCIAddress.init)
        var actions: [String] = []
        let missing = functions.filter { !sysfs.exists(PCISysfs.devicePath($0)) }
        if !missing.isEmpty {
            if let bus = journal.busDirectory {
                for text in journal.idsToRemove { try? await recorder.write(text, "bus/pci/drivers/\(target)/new_id") }
                do {
                    try await recorder.write("1", "\(bus)/rescan")
                    try await waitUntil("functions back") { missing.allSatisfy { sysfs.exists(PCISysfs.devicePath($0)) } }
                    actions.append("rescanned \(bus) for " + missing.map(\.description).joined(separator: ", "))
                } catch {
                    actions.append("rescan of \(bus) failed: \(error)")
                }
            } else {
                actions.append("no bus to rescan for " + missing.map(\.description).joined(separator: ", "))
            }
        }
        // The new device objects have no driver_override: give them one before anything else can probe them.
        let claims = ClaimExecutor(sysfs: sysfs, writer: environment.writer, targetDriver: target, dryRun: false,
            writeTimeout: environment.stepTimeout)
        for function in functions {
            guard let device = try? PCISysfs(sysfs: sysfs).read(function) else { continue }
            let outcome = device.driver == target
                ? await claims.setOverride(function, id: device.id)
                : await claims.claim(function, id: device.id, isSelected: isSelected)
            recorder.steps.append(contentsOf: outcome.steps)
            captures.add(outcome.released)
            if !outcome.succeeded, case .failed(let why) = outcome.result { actions.append("\(function): \(why)") }
        }
        var removed: [String] = []
        for text in journal.idsToRemove {
            if let error = await ClaimExecutor.removeDynamicID(text, driver: target, recorder: recorder) {
                actions.append("remove_id \(text) failed: \(error)")
            } else {
                removed.append(text)
            }
        }
        if !removed.isEmpty { actions.append("removed dynamic IDs " + removed.joined(separator: ", ")) }
        let watched = (journal.unboundUnselected ?? []).compactMap(PCIAddress.init)
        let released = await ClaimExecutor.releaseCaptured(watched, sysfs: sysfs, targetDriver: target,
            recorder: recorder)
        captures.add(released)
        if !released.isEmpty {
            actions.append("released captured unselected " + released.map(\.description).joined(separator: ", "))
        }
        do {
            try ResetJournal.remove(stateDirectory: environment.stateDirectory)
        } catch {
            actions.append("cannot remove the journal: \(error)")
        }
        return actions
    }

    /// Waits until every function is present, answers config reads, idles in D0/D3hot and is on the target
    /// driver (re-claiming it if needed). Returns what is still wrong after `settleTimeout`.
    private func settle(_ functions: [PCIAddress], recorder: StepRecorder, isSelected: @escaping @Sendable (PCIAddress) -> Bool)
        async -> [String]
    {
        let deadline = ContinuousClock.now + environment.settleTimeout
        var problems: [String] = []
        repeat {
            problems = []
            for function in functions {
                guard let device = try? PCISysfs(sysfs: environment.sysfs).read(function) else {
                    problems.append("\(function) gone")
                    continue
                }
                let health = StuckAssessment.assess(address: function, device: device, logLines: [])
                problems.append(contentsOf: health.reasons.map { "\(function): \($0)" })
                if device.driver != environment.targetDriver {
                    let claim = await ClaimExecutor(sysfs: environment.sysfs, writer: environment.writer,
                        targetDriver: environment.targetDriver, dryRun: false, writeTimeout: environment.stepTimeout)
                        .claim(function, id: device.id, isSelected: isSelected)
                    recorder.steps.append(contentsOf: claim.steps)
                    if !claim.succeeded { problems.append("\(function) on \(device.driver ?? "no driver")") }
                }
            }
            if problems.isEmpty { return [] }
            try? await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        return problems
    }

    /// What is wrong with the slot now, without acting: gone, unreadable, unhealthy, or off the target driver.
    public func verify(_ functions: [PCIAddress]) async -> [String] {
        var problems: [String] = []
        for function in functions {
            let device: PCIDevice?
            do {
                device = try PCISysfs(sysfs: environment.sysfs).read(function)
            } catch {
                problems.append("\(function) unreadable: \(error)")
                continue
            }
            guard let device else {
                problems.append("\(function) gone")
                continue
            }
            let health = StuckAssessment.assess(address: function, device: device, logLines: [])
            problems.append(contentsOf: health.reasons.map { "\(function): \($0)" })
            if device.driver != environment.targetDriver {
                problems.append("\(function) on \(device.driver ?? "no driver")")
            }
        }
        return problems
    }

    private func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + environment.settleTimeout
        while !condition() {
            guard ContinuousClock.now < deadline else {
                throw StepError(description: "timed out waiting for \(what)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// What the start-up repair found and did.
    public struct StartupRepair: Sendable, Equatable {
        /// One line for the `reset-repaired` alert.
        public var summary: String
        /// The functions the journal named (to check and, if still wrong, quarantine).
        public var functions: [PCIAddress]
        /// The journal was damaged: where it was kept aside.
        public var damaged: Bool
    }

    /// After a daemon died mid-reset: repairs from the journal it left (a damaged one is kept aside and repaired
    /// from what can be read). `nil` when there was no journal.
    public func repairInterruptedReset(isSelected: @escaping @Sendable (PCIAddress) -> Bool) async -> StartupRepair? {
        let loaded = ResetJournal.load(stateDirectory: environment.stateDirectory, now: environment.wallClock())
        let recorder = StepRecorder(sysfs: environment.sysfs, writer: environment.writer, dryRun: environment.dryRun,
            timeout: environment.stepTimeout)
        switch loaded {
        case .none:
            return nil
        case .valid(let journal):
            let actions = await repair(journal, recorder: recorder, isSelected: isSelected, captures: CaptureLog())
            return StartupRepair(summary: "interrupted \(journal.method) of " + journal.functions.joined(separator: ", ")
                + ": " + (actions.isEmpty ? "nothing was missing" : actions.joined(separator: "; ")),
                functions: journal.functions.compactMap(PCIAddress.init), damaged: false)
        case .damaged(let salvaged, let reason, let keptAs):
            let kept = keptAs.map { "kept as \($0)" } ?? "could not be moved aside"
            guard let salvaged else {
                return StartupRepair(summary: "damaged reset journal (\(reason); \(kept)): nothing readable to repair "
                    + "from; check the selected slots", functions: [], damaged: true)
            }
            let actions = await repair(salvaged, recorder: recorder, isSelected: isSelected, captures: CaptureLog())
            return StartupRepair(summary: "damaged reset journal (\(reason); \(kept)); repaired "
                + salvaged.functions.joined(separator: ", ") + " from what was readable: "
                + (actions.isEmpty ? "nothing was missing" : actions.joined(separator: "; ")),
                functions: salvaged.functions.compactMap(PCIAddress.init), damaged: true)
        }
    }
}

/// Unselected functions released during one reset, collected across its steps.
final class CaptureLog: @unchecked Sendable {
    /// Only touched by the task running the reset.
    private(set) var released: [PCIAddress] = []
    func add(_ addresses: [PCIAddress]) {
        for address in addresses where !released.contains(address) { released.append(address) }
    }
}
