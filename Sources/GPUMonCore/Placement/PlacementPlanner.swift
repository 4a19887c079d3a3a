/// Decides, per selected function, what its Placement provider's `reserved` should be. Pure: the sync engine
/// reads Placement and the device states, calls this, and performs the writes it returns.
///
/// The rules (docs/placement.md):
/// - a function that is quarantined, stuck, not on the target driver (host driver, unbound, missing) or in a
///   non-viable IOMMU group → `reserved = total`, so Nova schedules nothing onto it;
/// - healthy again → `reserved = 0`, but only where gpumon set it (the ledger says so), or where the device is
///   one-time-use, has no allocation left and passed a verified reset after gpumon saw it consumed;
/// - anything else (a reset in progress, a VM holding it, a reservation gpumon did not make) is left as it is.
public enum PlacementPlanner {
    public enum Want: String, Sendable, Codable, Equatable {
        /// `reserved = total`.
        case reserved
        /// `reserved = 0`.
        case unreserved
        /// Whatever Placement has.
        case unchanged
    }

    public struct Item: Sendable, Equatable, Codable {
        public var address: PCIAddress
        public var providerName: String
        public var state: DeviceState
        public var want: Want
        /// The `reserved` value to write, when a write is needed.
        public var write: Int?
        public var reason: String
        /// What Placement has; `nil` when it has no provider of that name under this host.
        public var provider: PlacementProvider?

        /// Whether Placement already matches what gpumon wants.
        public var inSync: Bool { provider != nil && write == nil }

        enum CodingKeys: String, CodingKey {
            case address, state, want, write, reason, provider
            case providerName = "provider_name"
        }
    }

    public struct Plan: Sendable, Equatable {
        public var items: [Item]
        /// The ledger with this read's observations folded in (consumed one-time-use devices, reservations
        /// someone else lifted); the engine adds its own writes on top.
        public var ledger: PlacementLedger
    }

    /// Nova's name for a PCI device's provider: `<hypervisor_hostname>_<PCI ADDRESS UPPERCASE>`
    /// (`nova/compute/pci_placement_translator.py`).
    public static func providerName(hostname: String, address: PCIAddress) -> String {
        "\(hostname)_\(address.description.uppercased())"
    }

    /// Whether a state keeps a function out of scheduling.
    public static func isUnschedulable(_ device: PlacementDeviceInput) -> Bool {
        if device.groupViable == false { return true }
        switch device.state {
        case .quarantined, .stuck, .hostDriver, .unbound, .missing: return true
        case .ok, .resetting, .inUse, .unselected: return false
        }
    }

    /// - Parameters:
    ///   - providers: this host's device providers by name (only children of this host's compute node).
    ///   - ledgerTrusted: `false` when the ledger could not be read: nothing is unreserved (fail closed).
    public static func plan(devices: [PlacementDeviceInput], providers: [String: PlacementProvider],
        hostname: String, ledger: PlacementLedger, ledgerTrusted: Bool, now: Double) -> Plan
    {
        var ledger = ledger
        var items: [Item] = []
        for device in devices.sorted(by: { $0.address < $1.address }) {
            let name = providerName(hostname: hostname, address: device.address)
            var item = Item(address: device.address, providerName: name, state: device.state, want: .unchanged,
                write: nil, reason: "", provider: providers[name])
            guard let provider = providers[name] else {
                item.want = isUnschedulable(device) ? .reserved : .unchanged
                item.reason = "no provider \(name) under this host in Placement ([pci] report_in_placement off, "
                    + "or not in Nova's device_spec?)"
                items.append(item)
                continue
            }
            let ours = ledger.reservedByGPUMon[name] != nil
            // Someone lifted gpumon's reservation: it is no longer gpumon's to lift.
            if ours && provider.reserved == 0 { ledger.reservedByGPUMon[name] = nil }
            let consumed = provider.oneTimeUse && provider.total > 0 && provider.reserved >= provider.total
                && ledger.reservedByGPUMon[name] == nil
            if consumed {
                if ledger.consumedSince[name] == nil { ledger.consumedSince[name] = now }
            } else {
                ledger.consumedSince[name] = nil
            }
            if isUnschedulable(device) {
                item.want = .reserved
                if provider.reserved != provider.total { item.write = provider.total }
                item.reason = device.groupViable == false ? "IOMMU group not viable" : "device \(device.state.rawValue)"
            } else if device.state != .ok {
                item.reason = "device \(device.state.rawValue): left as it is until it settles"
            } else if provider.reserved == 0 {
                item.want = .unreserved
                item.reason = "healthy"
            } else if ledger.reservedByGPUMon[name] != nil {
                if ledgerTrusted {
                    item.want = .unreserved
                    item.write = 0
                    item.reason = "healthy again; gpumon reserved it"
                } else {
                    item.reason = "healthy, but the ledger is unreadable: not unreserving (fail closed)"
                }
            } else if consumed, let since = ledger.consumedSince[name] {
                let reset = ledger.verifiedResets[device.address.description]
                if !ledgerTrusted {
                    item.reason = "one-time-use, but the ledger is unreadable: not unreserving (fail closed)"
                } else if provider.used > 0 {
                    item.reason = "one-time-use, still allocated"
                } else if let reset, reset > since {
                    item.want = .unreserved
                    item.write = 0
                    item.reason = "one-time-use, no allocation left, verified reset since it was consumed"
                } else {
                    item.reason = "one-time-use, consumed: waiting for a verified reset (gpumon reset \(device.address))"
                }
            } else {
                item.reason = "reserved = \(provider.reserved) not set by gpumon: left alone"
            }
            items.append(item)
        }
        return Plan(items: items, ledger: ledger)
    }
}
