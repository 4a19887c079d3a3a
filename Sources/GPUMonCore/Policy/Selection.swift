/// The functions a config selects on one host, and why each one is (or is not) selected.
public struct Selection: Sendable, Equatable {
    /// Why a function is selected.
    public enum Reason: Sendable, Equatable {
        /// Matched a `[[gpu]]` entry's `ids`.
        case id(rule: Int)
        /// Named in a `[[gpu]]` entry's `addresses`.
        case address(rule: Int)
        /// Another function of the same slot as a selected device (`companions = true`).
        case companion(of: PCIAddress, rule: Int)

        /// The index of the `[[gpu]]` entry responsible.
        public var rule: Int {
            switch self {
            case .id(let rule), .address(let rule), .companion(_, let rule): return rule
            }
        }
    }

    /// Why a function that a rule matched was left out anyway.
    public enum Exclusion: String, Sendable, Equatable {
        /// The host console; `allow_boot_vga = false`.
        case bootVGA = "boot-vga"
        /// Another function of the host console's card (its HDMI audio): taking it would still touch the card
        /// that drives the console.
        case bootVGASlot = "boot-vga-slot"
        /// Bridges and host bridges are never passed through.
        case bridge
        /// Present in sysfs but its attributes cannot be read: nothing is known about it, so it is not acted on.
        case unreadable
        /// Another function of its slot cannot be read: it might be the boot VGA (`allow_boot_vga = false`).
        case unreadableSibling = "unreadable-sibling"
    }

    /// Selected functions present on the host.
    public var selected: [PCIAddress: Reason] = [:]
    /// Functions a rule matched but that were excluded, with the reason.
    public var excluded: [PCIAddress: Exclusion] = [:]
    /// Addresses named in the config that are not present in sysfs.
    public var missing: [PCIAddress: Int] = [:]
    /// `ids` entries that matched no function, as (rule, id), for `check-config` warnings.
    public var unmatchedIDs: [(rule: Int, id: PCIID)] = []

    public init() {}

    public func isSelected(_ address: PCIAddress) -> Bool { selected[address] != nil }

    /// The primary function a companion was added for.
    public func companionOf(_ address: PCIAddress) -> PCIAddress? {
        if case .companion(let primary, _)? = selected[address] { return primary }
        return nil
    }

    /// Every selected address, sorted.
    public var selectedAddresses: [PCIAddress] { selected.keys.sorted() }

    public static func == (lhs: Selection, rhs: Selection) -> Bool {
        lhs.selected == rhs.selected && lhs.excluded == rhs.excluded && lhs.missing == rhs.missing
            && lhs.unmatchedIDs.map(\.id) == rhs.unmatchedIDs.map(\.id)
            && lhs.unmatchedIDs.map(\.rule) == rhs.unmatchedIDs.map(\.rule)
    }
}
