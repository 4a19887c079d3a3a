public import GPUMonCore
public import HostFS
import SystemPackage

/// Moves one selected function to the target driver and verifies every step by reading sysfs back.
///
/// The sequence is the one libvirt, driverctl and the kernel's own documentation use: set `driver_override`,
/// unbind from the current driver, write the address to `drivers_probe`. When the override is missing or does
/// not take, it falls back to the target driver's dynamic ID (`new_id`, an explicit `bind`, then `remove_id`),
/// and hands back any unselected function the dynamic ID captured — the boot VGA above all.
public struct ClaimExecutor: Sendable {
    public let sysfs: FileTree
    public let writer: any AttributeWriter
    public let targetDriver: String
    public let dryRun: Bool
    /// Finds holders of a function's host-driver nodes before an unbind; `nil` skips the check (tests of other
    /// parts that have no `/proc`).
    public let holders: VFIOHolderScanner?
    /// How long one sysfs write may block before the claim gives up on it (an unbind can hang in a driver).
    public let writeTimeout: Duration

    public init(sysfs: FileTree, writer: any AttributeWriter, targetDriver: String, dryRun: Bool,
        holders: VFIOHolderScanner? = nil, writeTimeout: Duration = .seconds(30)) {
        self.sysfs = sysfs
        self.writer = writer
        self.targetDriver = targetDriver
        self.dryRun = dryRun
        self.holders = holders
        self.writeTimeout = writeTimeout
    }

    /// Why a step failed; the outcome's message.
    struct StepFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Claims `address`, which must still have `id` (re-checked before the first write).
    ///
    /// - Parameter isSelected: tells whether another function may stay on the target driver after a `new_id`
    ///   fallback; unselected ones captured by the dynamic ID are released.
    public func claim(_ address: PCIAddress, id: PCIID, isSelected: @Sendable (PCIAddress) -> Bool) async
        -> ClaimOutcome
    {
        let recorder = StepRecorder(sysfs: sysfs, writer: writer, dryRun: dryRun, timeout: writeTimeout)
        let dir = PCISysfs.devicePath(address)
        let previous = (try? sysfs.readLinkName("\(dir)/driver")) ?? nil
        func outcome(_ result: ClaimOutcome.Result, released: [PCIAddress] = []) -> ClaimOutcome {
            ClaimOutcome(
                address: address, previousDriver: previous, result: result, released: released, steps: recorder.steps)
        }
        func write(_ value: String, _ relative: String) async throws { try await recorder.write(value, relative) }
        func note(_ text: String) { recorder.steps.append(text) }
        do {
            try checkIdentity(address, id: id)
            if let previous, previous != targetDriver { try checkNodesFree(address, driver: previous) }
            if dryRun {
                try await write(targetDriver, "\(dir)/driver_override")
                if let previous, previous != targetDriver { try await write(address.description, "\(dir)/driver/unbind") }
                if previous != targetDriver { try await write(address.description, "bus/pci/drivers_probe") }
                return outcome(.dryRun)
            }
            if sysfs.exists("\(dir)/driver_override") {
                try await write(targetDriver, "\(dir)/driver_override")
                let readBack = try sysfs.readString("\(dir)/driver_override")
                if readBack != targetDriver {
                    note("driver_override reads back \"\(readBack ?? "(absent)")\"")
                }
            } else {
                note("no driver_override attribute (kernel before 3.16): using new_id")
            }
            let current = try sysfs.readLinkName("\(dir)/driver")
            if current == targetDriver { return outcome(.overrideSet) }
            if let current {
                try checkNodesFree(address, driver: current)
                try await write(address.description, "bus/pci/drivers/\(current)/unbind")
                let after = try sysfs.readLinkName("\(dir)/driver")
                if after == current { throw StepFailure(description: "still bound to \(current) after unbind") }
            }
            do {
                try await write(address.description, "bus/pci/drivers_probe")
            } catch {
                // drivers_probe reports a failed probe as an error; the read-back below is what decides.
                note("drivers_probe: \(error)")
            }
            let probed = try sysfs.readLinkName("\(dir)/driver")
            if probed == targetDriver { return outcome(.boundByOverride) }
            if let probed {
                // The override did not hold and a host driver took it again: free it for the dynamic ID.
                note("drivers_probe bound \(probed) despite driver_override")
                try checkNodesFree(address, driver: probed)
                try await write(address.description, "bus/pci/drivers/\(probed)/unbind")
            }
            let released = try await bindByNewID(address, id: id, isSelected: isSelected, recorder: recorder)
            guard try sysfs.readLinkName("\(dir)/driver") == targetDriver else {
                let now = (try? sysfs.readLinkName("\(dir)/driver")) ?? nil
                throw StepFailure(description: "not bound to \(targetDriver) after drivers_probe and new_id (driver: \(now ?? "none"))")
            }
            return outcome(.boundByNewID, released: released)
        } catch let error as StepFailure {
            return outcome(.failed(error.description))
        } catch let error as FSError {
            return outcome(.failed(error.description))
        } catch {
            return outcome(.failed("\(error)"))
        }
    }

    /// Sets `driver_override` on a function already on the target driver, so an unbind or a host-driver
    /// module load cannot take it.
    public func setOverride(_ address: PCIAddress, id: PCIID) async -> ClaimOutcome {
        let recorder = StepRecorder(sysfs: sysfs, writer: writer, dryRun: dryRun, timeout: writeTimeout)
        let relative = "\(PCISysfs.devicePath(address))/driver_override"
        do {
            if !dryRun { try checkIdentity(address, id: id) }
            try await recorder.write(targetDriver, relative)
            if dryRun {
                return ClaimOutcome(address: address, previousDriver: targetDriver, result: .dryRun, steps: recorder.steps)
            }
            let readBack = try sysfs.readString(relative)
            guard readBack == targetDriver else {
                throw StepFailure(description: "driver_override reads back \"\(readBack ?? "(absent)")\"")
            }
            return ClaimOutcome(address: address, previousDriver: targetDriver, result: .overrideSet, steps: recorder.steps)
        } catch {
            return ClaimOutcome(address: address, previousDriver: targetDriver, result: .failed("\(error)"),
                steps: recorder.steps)
        }
    }

    /// Refuses to unbind a host driver while a process holds one of the device's nodes open: the unbind would
    /// wait for that process forever (NVIDIA: "Attempting to remove device … with non-zero usage count").
    private func checkNodesFree(_ address: PCIAddress, driver: String) throws {
        guard let holders else { return }
        let held = holders.hostNodeHolders(of: address)
        guard !held.isEmpty else { return }
        let text = held.sorted { $0.key < $1.key }.map { node, pids in
            "\(node) by pid " + pids.sorted().map(String.init).joined(separator: ",")
        }.joined(separator: "; ")
        throw StepFailure(description: "not unbinding \(driver): its device nodes are held open (\(text))")
    }

    /// The device at `address` must still be the one the plan was made for: a hot-swap between plan and write
    /// must not make gpumon act on another card.
    private func checkIdentity(_ address: PCIAddress, id: PCIID) throws {
        let dir = PCISysfs.devicePath(address)
        let reader = AttributeReader(sysfs: sysfs, directory: dir)
        guard let vendor: UInt16 = try reader.hex("vendor"), let device: UInt16 = try reader.hex("device") else {
            throw StepFailure(description: "device is gone")
        }
        guard PCIID(vendor: vendor, device: device) == id else {
            throw StepFailure(description: "device changed identity to \(PCIID(vendor: vendor, device: device)) (expected \(id))")
        }
    }

    /// The dynamic-ID fallback. `new_id` makes the target driver probe every *unbound* function with this ID, so
    /// note which ones are unbound first, and release those that are not selected.
    private func bindByNewID(
        _ address: PCIAddress, id: PCIID, isSelected: @Sendable (PCIAddress) -> Bool, recorder: StepRecorder
    ) async throws -> [PCIAddress] {
        let driverDir = "bus/pci/drivers/\(targetDriver)"
        let candidates = ClaimExecutor.unboundUnselected(sysfs: sysfs, matching: [id], isSelected: isSelected)
            .filter { $0 != address }
        let idText = "\(id.vendorHex) \(id.deviceHex)"
        var added = true
        do {
            try await recorder.write(idText, "\(driverDir)/new_id")
        } catch let error as FSError where error.code == .rejected {
            added = false  // EEXIST: the ID is already in the driver's table
        } catch {
            // Failed or timed out: it may still have been added (a timed-out write can complete later). Take it
            // out and hand back what it captured before giving up.
            _ = await ClaimExecutor.removeDynamicID(idText, driver: targetDriver, recorder: recorder)
            _ = await ClaimExecutor.releaseCaptured(candidates, sysfs: sysfs, targetDriver: targetDriver,
                recorder: recorder)
            throw error
        }
        if try sysfs.readLinkName("\(PCISysfs.devicePath(address))/driver") != targetDriver {
            // An explicit bind; its result is verified by the caller's read-back.
            try? await recorder.write(address.description, "\(driverDir)/bind")
        }
        if added {
            _ = await ClaimExecutor.removeDynamicID(idText, driver: targetDriver, recorder: recorder)
        }
        return await ClaimExecutor.releaseCaptured(candidates, sysfs: sysfs, targetDriver: targetDriver,
            recorder: recorder)
    }

    /// Removes a dynamic ID, retrying once after any failure (a dynamic ID left behind captures every matching
    /// device added later; the kernel's ENODEV means "not in the table", but nothing can be read back to tell it
    /// from a failed write, so it is tried again). An `ENODEV`/`EINVAL` on the retry means it is gone. Returns
    /// the error if both tries failed otherwise.
    static func removeDynamicID(_ idText: String, driver: String, recorder: StepRecorder) async -> (any Error)? {
        do {
            try await recorder.write(idText, "bus/pci/drivers/\(driver)/remove_id")
            return nil
        } catch {}
        do {
            try await recorder.write(idText, "bus/pci/drivers/\(driver)/remove_id")
            return nil
        } catch let error as FSError where error.code == .deviceGone || error.code == .rejected {
            return nil
        } catch {
            return error
        }
    }

    /// Unselected functions without a driver whose ID is one of `ids`, or cannot be read (it might match):
    /// a dynamic ID added now would capture them.
    static func unboundUnselected(sysfs: FileTree, matching ids: Set<PCIID>, isSelected: (PCIAddress) -> Bool)
        -> [PCIAddress]
    {
        let names = ((try? sysfs.list(PCISysfs.devicesDirectory)) ?? nil) ?? []
        return names.compactMap { name -> PCIAddress? in
            guard let address = PCIAddress(name), !isSelected(address) else { return nil }
            let dir = PCISysfs.devicePath(address)
            do {
                guard try sysfs.readLinkName("\(dir)/driver") == nil else { return nil }
            } catch {
                return nil  // gone
            }
            let reader = AttributeReader(sysfs: sysfs, directory: dir)
            guard let vendor: UInt16 = try? reader.hex("vendor"), let device: UInt16 = try? reader.hex("device") else {
                return address  // unreadable: assume it matches
            }
            return ids.contains(PCIID(vendor: vendor, device: device)) ? address : nil
        }.sorted()
    }

    /// Hands back `candidates` (unselected, unbound before a dynamic ID was added) that the target driver
    /// captured: unbind only, so they end as they were (unbound; a `drivers_probe` would hand a console GPU to
    /// a host driver nobody asked for). Call after `remove_id`. Returns the released ones.
    static func releaseCaptured(_ candidates: [PCIAddress], sysfs: FileTree, targetDriver: String,
        recorder: StepRecorder) async -> [PCIAddress]
    {
        var released: [PCIAddress] = []
        func onTarget(_ address: PCIAddress) -> Bool {
            ((try? sysfs.readLinkName("\(PCISysfs.devicePath(address))/driver")) ?? nil) == targetDriver
        }
        for other in candidates where onTarget(other) {
            // Read back; one retry (an unbind that failed once leaves a console GPU on vfio-pci otherwise).
            try? await recorder.write(other.description, "bus/pci/drivers/\(targetDriver)/unbind")
            if onTarget(other) { try? await recorder.write(other.description, "bus/pci/drivers/\(targetDriver)/unbind") }
            released.append(other)
        }
        return released
    }
}

/// Records each write before doing it (or instead of it, in a dry run), for the outcome's step list. Writes run
/// on a dispatch thread with a timeout (``BlockingCall``): a sysfs write can block in a driver, and must never
/// block an actor or the cooperative pool.
final class StepRecorder: @unchecked Sendable {
    let sysfs: FileTree
    let writer: any AttributeWriter
    let dryRun: Bool
    let timeout: Duration
    /// Only touched by the task that owns the recorder (one claim or one reset step).
    var steps: [String] = []

    init(sysfs: FileTree, writer: any AttributeWriter, dryRun: Bool, timeout: Duration) {
        self.sysfs = sysfs
        self.writer = writer
        self.dryRun = dryRun
        self.timeout = timeout
    }

    /// Writes `value` to `relative`, or only records it in a dry run.
    /// - Throws: the writer's ``FSError``, or ``WriteTimeout`` when the write did not return in time.
    func write(_ value: String, _ relative: String) async throws {
        steps.append("write \"\(value)\" > \(sysfs.path(relative))")
        if dryRun { return }
        let writer = self.writer
        let result = await BlockingCall.run(timeout: timeout) { () -> FSError? in
            do throws(FSError) {
                try writer.write(value, to: relative)
                return nil
            } catch {
                return error
            }
        }
        switch result {
        case .timedOut: throw WriteTimeout(path: sysfs.path(relative), timeout: timeout)
        case .finished(let error?): throw error
        case .finished(nil): return
        }
    }
}

/// A sysfs write that did not return within its timeout (its thread stays blocked in the kernel).
struct WriteTimeout: Error, CustomStringConvertible {
    let path: String
    let timeout: Duration
    var description: String { "write to \(path) did not return within \(ConfigDuration.format(timeout))" }
}
