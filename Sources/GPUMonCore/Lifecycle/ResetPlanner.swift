/// Turns the configured method order into concrete steps for one slot, skipping (with a reason) methods the
/// kernel or the topology cannot do. Pure.
public enum ResetPlanner {
    public struct Plan: Sendable, Equatable {
        public var steps: [ResetStep] = []
        /// Methods left out, with why (`bus: refused by the kernel while the slot has 2 functions`).
        public var skipped: [String] = []
    }

    /// - Parameters:
    ///   - functions: the slot's selected functions present now (the GPU and its companions).
    ///   - only: an operator's `--method`, replacing the configured order.
    public static func plan(
        functions: [PCIDevice], methods: [ResetMethod], topology: PCITopology, only: ResetMethod? = nil
    ) -> Plan {
        var plan = Plan()
        let sorted = functions.sorted { $0.address < $1.address }
        guard let primary = sorted.first else { return plan }
        let slotMembers = topology.devices.filter { $0.address.slot == primary.address.slot }
        // A slot-wide method (bus reset of the slot, remove + rescan) acts on every function behind the bridge.
        // gpumon never touches a function the config does not select, nor one it cannot read: such a method is
        // refused with the functions that stand in the way (`companions = false` leaves the audio function out).
        let selectedSet = Set(sorted.map(\.address))
        let outsiders = (slotMembers.map(\.address).filter { !selectedSet.contains($0) }
            + topology.unknownSiblings(of: primary.address)).sorted()
        func refusal(_ name: String) -> String? {
            guard !outsiders.isEmpty else { return nil }
            return "\(name): would also act on " + outsiders.map(\.description).joined(separator: ", ")
                + ", which the config does not select (or which cannot be read)"
        }
        for method in only.map({ [$0] }) ?? methods {
            switch method {
            case .flr, .pm, .deviceSpecific, .acpi:
                let kernelName = method == .flr ? "flr" : method.rawValue
                let capable = sorted.filter { device in
                    device.resetMethods?.contains(kernelName) == true
                        || (method == .flr && device.resetMethods?.contains("af_flr") == true)
                }
                if capable.isEmpty {
                    plan.skipped.append("\(method.rawValue): not in reset_method of " + sorted.map(\.address.description).joined(separator: ", "))
                    continue
                }
                if capable.count < sorted.count {
                    plan.skipped.append("\(method.rawValue): only " + capable.map(\.address.description).joined(separator: ", ")
                        + " can do it; the slot needs every function reset")
                    continue
                }
                for device in capable {
                    let name = device.resetMethods?.contains(kernelName) == true ? kernelName : "af_flr"
                    plan.steps.append(.kernel(method: name, address: device.address))
                }
            case .bus:
                if let why = refusal("bus") {
                    plan.skipped.append(why)
                } else if slotMembers.count > 1 {
                    plan.skipped.append("bus: the kernel refuses a bus reset of one function while the slot has "
                        + "\(slotMembers.count) functions (use slot)")
                } else if primary.resetMethods?.contains("bus") != true {
                    plan.skipped.append("bus: not in reset_method of \(primary.address)")
                } else {
                    plan.steps.append(.kernel(method: "bus", address: primary.address))
                }
            case .slot:
                if let why = refusal("slot") {
                    plan.skipped.append(why)
                    continue
                }
                let groups = Set(slotMembers.compactMap(\.iommuGroup)).sorted()
                guard slotMembers.allSatisfy({ $0.iommuGroup != nil }), !groups.isEmpty else {
                    plan.skipped.append("slot: a function of the slot has no IOMMU group")
                    continue
                }
                guard primary.parentBridge != nil else {
                    plan.skipped.append("slot: \(primary.address) is on the root bus; no bridge to reset")
                    continue
                }
                plan.steps.append(.slot(functions: slotMembers.map(\.address), groups: groups))
            case .removeRescan:
                if let why = refusal("remove-rescan") {
                    plan.skipped.append(why)
                    continue
                }
                guard let bridge = primary.parentBridge else {
                    plan.skipped.append("remove-rescan: \(primary.address) is on the root bus; refusing to rescan it")
                    continue
                }
                plan.steps.append(.removeRescan(functions: slotMembers.map(\.address).sorted(by: >), bridge: bridge))
            }
        }
        return plan
    }
}
