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

    public init(sysfs: FileTree, writer: any AttributeWriter, targetDriver: String, dryRun: Bool) {
        self.sysfs = sysfs
        self.writer = writer
        self.targetDriver = targetDriver
        self.dryRun = dryRun
    }

    /// Why a step failed; the outcome's message.
    struct StepFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Claims `address`, which must still have `id` (re-checked before the first write).
    ///
    /// - Parameter isSelected: tells whether another function may stay on the target driver after a `new_id`
    ///   fallback; unselected ones captured by the dynamic ID are released.
    public func claim(_ address: PCIAddress, id: PCIID, isSelected: (PCIAddress) -> Bool) -> ClaimOutcome {
        let recorder = StepRecorder(sysfs: sysfs, writer: writer, dryRun: dryRun)
        let dir = PCISysfs.devicePath(address)
        let previous = (try? sysfs.readLinkName("\(dir)/driver")) ?? nil
        func outcome(_ result: ClaimOutcome.Result, released: [PCIAddress] = []) -> ClaimOutcome {
            ClaimOutcome(
                address: address, previousDriver: previous, result: result, released: released, steps: recorder.steps)
        }
        func write(_ value: String, _ relative: String) throws { try recorder.write(value, relative) }
        func note(_ text: String) { recorder.steps.append(text) }
        do {
            try checkIdentity(address, id: id)
            if dryRun {
                try write(targetDriver, "\(dir)/driver_override")
                if let previous, previous != targetDriver { try write(address.description, "\(dir)/driver/unbind") }
                if previous != targetDriver { try write(address.description, "bus/pci/drivers_probe") }
                return outcome(.dryRun)
            }
            if sysfs.exists("\(dir)/driver_override") {
                try write(targetDriver, "\(dir)/driver_override")
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
                try write(address.description, "bus/pci/drivers/\(current)/unbind")
                let after = try sysfs.readLinkName("\(dir)/driver")
                if after == current { throw StepFailure(description: "still bound to \(current) after unbind") }
            }
            do {
                try write(address.description, "bus/pci/drivers_probe")
            } catch {
                // drivers_probe reports a failed probe as an error; the read-back below is what decides.
                note("drivers_probe: \(error)")
            }
            let probed = try sysfs.readLinkName("\(dir)/driver")
            if probed == targetDriver { return outcome(.boundByOverride) }
            if let probed {
                // The override did not hold and a host driver took it again: free it for the dynamic ID.
                note("drivers_probe bound \(probed) despite driver_override")
                try write(address.description, "bus/pci/drivers/\(probed)/unbind")
            }
            let released = try bindByNewID(address, id: id, isSelected: isSelected, recorder: recorder)
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
    public func setOverride(_ address: PCIAddress, id: PCIID) -> ClaimOutcome {
        var log: [String] = []  // one step, recorded before it is done
        let dir = PCISysfs.devicePath(address)
        let relative = "\(dir)/driver_override"
        log.append("write \"\(targetDriver)\" > \(sysfs.path(relative))")
        if dryRun {
            return ClaimOutcome(address: address, previousDriver: targetDriver, result: .dryRun, steps: log)
        }
        do {
            try checkIdentity(address, id: id)
            try writer.write(targetDriver, to: relative)
            let readBack = try sysfs.readString(relative)
            guard readBack == targetDriver else {
                throw StepFailure(description: "driver_override reads back \"\(readBack ?? "(absent)")\"")
            }
            return ClaimOutcome(address: address, previousDriver: targetDriver, result: .overrideSet, steps: log)
        } catch {
            return ClaimOutcome(address: address, previousDriver: targetDriver, result: .failed("\(error)"), steps: log)
        }
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
        _ address: PCIAddress, id: PCIID, isSelected: (PCIAddress) -> Bool, recorder: StepRecorder
    ) throws -> [PCIAddress] {
        let driverDir = "bus/pci/drivers/\(targetDriver)"
        let candidates = try unboundFunctions(with: id).filter { $0 != address && !isSelected($0) }
        let idText = "\(id.vendorHex) \(id.deviceHex)"
        var added = true
        do {
            try recorder.write(idText, "\(driverDir)/new_id")
        } catch let error as FSError where error.code == .rejected {
            added = false  // EEXIST: the ID is already in the driver's table
        }
        if try sysfs.readLinkName("\(PCISysfs.devicePath(address))/driver") != targetDriver {
            // An explicit bind; its result is verified by the caller's read-back.
            try? recorder.write(address.description, "\(driverDir)/bind")
        }
        if added {
            try? recorder.write(idText, "\(driverDir)/remove_id")
        }
        var released: [PCIAddress] = []
        for other in candidates where try sysfs.readLinkName("\(PCISysfs.devicePath(other))/driver") == targetDriver {
            try recorder.write(other.description, "\(driverDir)/unbind")
            try? recorder.write(other.description, "bus/pci/drivers_probe")
            released.append(other)
        }
        return released
    }

    private func unboundFunctions(with id: PCIID) throws -> [PCIAddress] {
        guard let names = try sysfs.list(PCISysfs.devicesDirectory) else { return [] }
        return try names.compactMap { name -> PCIAddress? in
            guard let address = PCIAddress(name) else { return nil }
            let reader = AttributeReader(sysfs: sysfs, directory: PCISysfs.devicePath(address))
            guard let vendor: UInt16 = try? reader.hex("vendor"), let device: UInt16 = try? reader.hex("device"),
                PCIID(vendor: vendor, device: device) == id
            else { return nil }
            return try sysfs.readLinkName("\(PCISysfs.devicePath(address))/driver") == nil ? address : nil
        }
    }
}

/// Records each write before doing it (or instead of it, in a dry run), for the outcome's step list.
final class StepRecorder {
    let sysfs: FileTree
    let writer: any AttributeWriter
    let dryRun: Bool
    var steps: [String] = []

    init(sysfs: FileTree, writer: any AttributeWriter, dryRun: Bool) {
        self.sysfs = sysfs
        self.writer = writer
        self.dryRun = dryRun
    }

    func write(_ value: String, _ relative: String) throws {
        steps.append("write \"\(value)\" > \(sysfs.path(relative))")
        if !dryRun { try writer.write(value, to: relative) }
    }
}
