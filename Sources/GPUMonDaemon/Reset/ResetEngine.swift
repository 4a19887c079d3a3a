public import GPUMonCore
public import HostFS
import SystemPackage

/// Runs a reset plan step by step until one leaves every function of the slot healthy and back on the target
/// driver, verifying after each step. The steps never hand a function to a host driver: kernel resets and the
/// VFIO hot reset keep it bound; remove+rescan is refused unless the target driver wins the rescan.
public struct ResetEngine: Sendable {
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
        /// A pause between the remove and the rescan, for the kernel lab's "kill -9 mid-reset" scenario only
        /// (`GPUMON_TEST_PAUSE_BEFORE_RESCAN_MS`); zero otherwise.
        public var pauseBeforeRescan: Duration = .zero

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
        public var succeeded: Bool { steps.last?.succeeded == true }
        public var method: String? { steps.last(where: \.succeeded)?.step.method }
    }

    public let environment: Environment

    public init(environment: Environment) { self.environment = environment }

    /// Runs `plan` for the slot whose selected functions are `functions`.
    public func run(_ plan: ResetPlanner.Plan, functions: [PCIAddress], isSelected: @Sendable (PCIAddress) -> Bool)
        async -> Report
    {
        var report = Report(skipped: plan.skipped)
        for step in plan.steps {
            let started = ContinuousClock.now
            let recorder = StepRecorder(sysfs: environment.sysfs, writer: environment.writer, dryRun: environment.dryRun)
            var detail: String
            var ok: Bool
            do {
                try await execute(step, recorder: recorder, isSelected: isSelected)
                if environment.dryRun {
                    (ok, detail) = (true, "dry run")
                } else {
                    let problems = await settle(functions, recorder: recorder, isSelected: isSelected)
                    (ok, detail) = problems.isEmpty ? (true, "healthy on \(environment.targetDriver)")
                        : (false, "not healthy after the reset: " + problems.joined(separator: "; "))
                }
            } catch {
                (ok, detail) = (false, "\(error)")
            }
            let elapsed = ContinuousClock.now - started
            report.steps.append(StepReport(step: step, succeeded: ok, detail: detail, seconds: elapsed.seconds,
                writes: recorder.steps))
            if ok { break }
        }
        return report
    }

    /// Why a step could not run or failed.
    struct StepError: Error, CustomStringConvertible {
        let description: String
    }

    private func execute(_ step: ResetStep, recorder: StepRecorder, isSelected: @Sendable (PCIAddress) -> Bool)
        async throws
    {
        let sysfs = environment.sysfs
        switch step {
        case .kernel(let method, let address):
            let dir = PCISysfs.devicePath(address)
            let previous = try sysfs.readString("\(dir)/reset_method")
            try recorder.write(method, "\(dir)/reset_method")
            defer {
                // Put the kernel's method list back the way it was, whatever happened.
                try? recorder.write(previous.flatMap { $0.isEmpty ? nil : $0 } ?? "default", "\(dir)/reset_method")
            }
            try await blockingWrite("1", "\(dir)/reset", recorder: recorder)
        case .slot(let functions, let groups):
            for function in functions {
                let driver = try sysfs.readLinkName("\(PCISysfs.devicePath(function))/driver")
                guard driver == environment.targetDriver else {
                    throw StepError(description: "\(function) is on \(driver ?? "no driver"), not \(environment.targetDriver)")
                }
            }
            let holders = VFIOHolderScanner(proc: environment.proc).holders()
            for group in groups {
                guard let pids = holders[group], !pids.isEmpty else { continue }
                throw StepError(description: "group \(group) is held open by pid "
                    + pids.sorted().map(String.init).joined(separator: ","))
            }
            guard let device = functions.sorted().first,
                let group = try PCISysfs(sysfs: sysfs).read(device)?.iommuGroup
            else { return }
            recorder.steps.append("VFIO_DEVICE_PCI_HOT_RESET via /dev/vfio/\(group) (\(device))")
            if environment.dryRun { return }
            let hotReset = environment.hotReset
            switch await BlockingCall.run(timeout: environment.stepTimeout, { hotReset(group, device.description, groups) }) {
            case .timedOut: throw StepError(description: "hot reset did not return within \(environment.stepTimeout)")
            case .finished(let error?): throw StepError(description: error)
            case .finished(nil): break
            }
        case .removeRescan(let functions, let bridge):
            try await removeRescan(functions, bridge: bridge, recorder: recorder, isSelected: isSelected)
        }
    }

    private func removeRescan(
        _ functions: [PCIAddress], bridge: PCIAddress, recorder: StepRecorder,
        isSelected: @Sendable (PCIAddress) -> Bool
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
        // A dynamic ID makes the target driver match the new device objects before any host driver can.
        var added: [String] = []
        for id in ids {
            let text = "\(id.vendorHex) \(id.deviceHex)"
            do {
                try recorder.write(text, "bus/pci/drivers/\(target)/new_id")
                added.append(text)
            } catch let error as FSError where error.code == .rejected {
                // Already in the driver's table.
            }
        }
        let journal = ResetJournal(method: "remove-rescan", functions: functions.map(\.description),
            bridge: bridge.description, busDirectory: busDirectory, addedIDs: added, targetDriver: target,
            started: WallClock.now())
        if !environment.dryRun { try journal.save(stateDirectory: environment.stateDirectory) }
        for function in functions {
            try await blockingWrite("1", "\(PCISysfs.devicePath(function))/remove", recorder: recorder)
        }
        if !environment.dryRun {
            try await waitUntil("\(functions.count) function(s) gone") {
                functions.allSatisfy { !sysfs.exists(PCISysfs.devicePath($0)) }
            }
        }
        if environment.pauseBeforeRescan > .zero && !environment.dryRun {
            try await Task.sleep(for: environment.pauseBeforeRescan)
        }
        try await blockingWrite("1", "\(busDirectory)/rescan", recorder: recorder)
        if environment.dryRun { return }
        try await waitUntil("\(functions.count) function(s) back") {
            functions.allSatisfy { sysfs.exists(PCISysfs.devicePath($0)) }
        }
        // The new device objects have no driver_override: give them one before anything else can probe them.
        let claims = ClaimExecutor(sysfs: sysfs, writer: environment.writer, targetDriver: target, dryRun: false)
        for function in functions {
            guard let device = try PCISysfs(sysfs: sysfs).read(function) else { continue }
            let outcome = device.driver == target
                ? claims.setOverride(function, id: device.id) : claims.claim(function, id: device.id, isSelected: isSelected)
            recorder.steps.append(contentsOf: outcome.steps)
        }
        for text in added { try? recorder.write(text, "bus/pci/drivers/\(target)/remove_id") }
        ResetJournal.remove(stateDirectory: environment.stateDirectory)
    }

    /// Waits until every function is present, answers config reads, idles in D0/D3hot and is on the target
    /// driver (re-claiming it if needed). Returns what is still wrong after `settleTimeout`.
    private func settle(_ functions: [PCIAddress], recorder: StepRecorder, isSelected: @Sendable (PCIAddress) -> Bool)
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
                    let claim = ClaimExecutor(sysfs: environment.sysfs, writer: environment.writer,
                        targetDriver: environment.targetDriver, dryRun: false)
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

    private func blockingWrite(_ value: String, _ relative: String, recorder: StepRecorder) async throws {
        if environment.dryRun {
            try recorder.write(value, relative)
            return
        }
        recorder.steps.append("write \"\(value)\" > \(environment.sysfs.path(relative))")
        let writer = environment.writer
        let result = await BlockingCall.run(timeout: environment.stepTimeout) { () -> FSError? in
            do throws(FSError) {
                try writer.write(value, to: relative)
                return nil
            } catch {
                return error
            }
        }
        switch result {
        case .timedOut:
            throw StepError(description: "write to \(environment.sysfs.path(relative)) did not return within "
                + ConfigDuration.format(environment.stepTimeout))
        case .finished(let error?):
            throw StepError(description: error.description)
        case .finished(nil):
            return
        }
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

    /// After a daemon died mid-reset: rescans a bridge whose functions are missing and removes the dynamic IDs it
    /// added. Returns what it did, or `nil` when there was nothing to repair.
    public func repairInterruptedReset() async -> String? {
        guard let journal = ResetJournal.load(stateDirectory: environment.stateDirectory) else { return nil }
        let sysfs = environment.sysfs
        let recorder = StepRecorder(sysfs: sysfs, writer: environment.writer, dryRun: environment.dryRun)
        let functions = journal.functions.compactMap(PCIAddress.init)
        var actions: [String] = []
        let missing = functions.filter { !sysfs.exists(PCISysfs.devicePath($0)) }
        if !missing.isEmpty, let bus = journal.busDirectory {
            for text in journal.addedIDs { try? recorder.write(text, "bus/pci/drivers/\(journal.targetDriver)/new_id") }
            do {
                try await blockingWrite("1", "\(bus)/rescan", recorder: recorder)
                try await waitUntil("functions back") { missing.allSatisfy { sysfs.exists(PCISysfs.devicePath($0)) } }
                actions.append("rescanned \(bus) for " + missing.map(\.description).joined(separator: ", "))
            } catch {
                actions.append("rescan of \(bus) failed: \(error)")
            }
        }
        for text in journal.addedIDs { try? recorder.write(text, "bus/pci/drivers/\(journal.targetDriver)/remove_id") }
        if !journal.addedIDs.isEmpty { actions.append("removed dynamic IDs " + journal.addedIDs.joined(separator: ", ")) }
        ResetJournal.remove(stateDirectory: environment.stateDirectory)
        return "interrupted \(journal.method) of " + journal.functions.joined(separator: ", ") + ": "
            + (actions.isEmpty ? "nothing was missing" : actions.joined(separator: "; "))
    }
}
