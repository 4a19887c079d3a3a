/// The admission gate's answer for one PCI function a VM is about to be given (libvirt's `prepare begin`).
///
/// Pure: the function's status as the daemon sees it, plus the VM-lifecycle side's knowledge of a stop being
/// handled, in; a verdict out. `gpumon hook` waits on ``wait`` (bounded by `[libvirt] gate_timeout`) and asks
/// again, exits 0 on ``ready`` and non-zero with ``Verdict/refuse(reason:fix:)``'s text otherwise.
public enum GateDecision {
    public enum Verdict: Sendable, Equatable {
        /// Hand it over.
        case ready
        /// Not ready yet, and gpumon is about to make it ready (a reset running or due, a claim due).
        case wait(reason: String)
        /// Not ready, and gpumon will not make it ready by itself.
        case refuse(reason: String, fix: String)

        public var isWait: Bool { if case .wait = self { return true } else { return false } }
    }

    /// What the VM-lifecycle side knows about a slot that `status` does not show.
    public struct Lifecycle: Sendable, Equatable {
        /// A stop of this slot is being handled (stuck check, reset, verification) or was accepted and is about to
        /// be.
        public var resetRunningOrDue: Bool
        /// The slot's quarantine, with why, when it has one.
        public var quarantine: String?
        /// The enforcer will correct the driver by itself (not a dry run, the slot not backed off for flapping).
        public var claimable: Bool

        public init(resetRunningOrDue: Bool = false, quarantine: String? = nil, claimable: Bool = true) {
            self.resetRunningOrDue = resetRunningOrDue
            self.quarantine = quarantine
            self.claimable = claimable
        }
    }

    /// The verdict for one function. `device` is its entry in the daemon's status report (`nil`: sysfs does not
    /// list it). An unselected function is always ready: gpumon has no say over devices it does not manage.
    public static func decide(address: PCIAddress, device: DeviceStatus?, lifecycle: Lifecycle) -> Verdict {
        // Mid remove-rescan the functions are gone from sysfs: a reset owns the slot, so absence is its doing
        // (seen in the lab: the gate refused "not present" while the rescan was pending). A quarantine still wins.
        if lifecycle.resetRunningOrDue && device?.selected != false {
            if let reason = lifecycle.quarantine {
                return .refuse(reason: "quarantined: \(reason)",
                    fix: "find out why it keeps failing, then `gpumon clear \(address)`")
            }
            return .wait(reason: "a reset is running or due")
        }
        guard let device else {
            return .refuse(reason: "not present in sysfs (removed, or a rescan that has not finished)",
                fix: "check `gpumon status \(address)`; a slot that stays missing needs the hardware looked at")
        }
        guard device.selected else { return .ready }
        if let reason = lifecycle.quarantine {
            return .refuse(reason: "quarantined: \(reason)",
                fix: "find out why it keeps failing, then `gpumon clear \(address)`")
        }
        // A reset (or the stop handling before it) owns the slot: its transient states are not the answer.
        if lifecycle.resetRunningOrDue || device.state == .resetting {
            return .wait(reason: "a reset is running or due")
        }
        switch device.state {
        case .quarantined:
            return .refuse(reason: "quarantined: \(device.note ?? "reset budget spent")",
                fix: "find out why it keeps failing, then `gpumon clear \(address)`")
        case .stuck:
            return .refuse(reason: "stuck: \(device.note ?? "found wedged after its last VM")",
                fix: "`gpumon reset \(address)` (then `gpumon clear \(address)` if it stays quarantined)")
        case .inUse:
            return .refuse(reason: "held by another process: \(device.note ?? "its IOMMU group is open")",
                fix: "stop the process (another VM?) that holds it; `gpumon status \(address)` names it")
        case .missing:
            return .refuse(reason: "not present in sysfs",
                fix: "check `gpumon status \(address)`; a slot that stays missing needs the hardware looked at")
        default:
            break
        }
        if device.groupViable == false {
            let blockers = (device.groupBlockers ?? []).map(\.description).joined(separator: ", ")
            return .refuse(
                reason: "IOMMU group \(device.iommuGroup.map(String.init) ?? "?") is not viable"
                    + (blockers.isEmpty ? "" : " (\(blockers) on a host driver)"),
                fix: "select the other members in the config or bind them to \(device.targetDriver); "
                    + "`gpumon doctor` explains")
        }
        switch device.state {
        case .ok:
            return .ready
        case .hostDriver, .unbound:
            let on = device.driver.map { "on \($0)" } ?? "bound to no driver"
            if lifecycle.claimable {
                return .wait(reason: "\(on), \(device.targetDriver) claim due")
            }
            return .refuse(reason: "\(on), not \(device.targetDriver), and gpumon is not claiming it "
                + "(\(device.note ?? "dry run or flapping"))",
                fix: "`gpumon status \(address)` says why; bind it to \(device.targetDriver) or restart the daemon "
                    + "without --dry-run")
        default:
            return .ready
        }
    }

    /// The one line `gpumon hook` prints on a refusal; libvirt puts it in the start error.
    public static func refusalLine(address: PCIAddress, domain: String, reason: String, fix: String) -> String {
        "gpumon: not starting \(domain): \(address) \(reason); fix: \(fix)"
    }
}
