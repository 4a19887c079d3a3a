/// One way to reset a device, tried in the order configured in `reset_methods`.
public enum ResetMethod: String, Sendable, CaseIterable, Codable {
    /// The kernel's function-level reset (`reset_method` = `flr`, or `af_flr` on conventional PCI).
    case flr
    /// The kernel's power-management reset: D3hot and back to D0 (`pm`).
    case pm
    /// The kernel's secondary bus reset of this function alone (`bus`); refused when the slot has siblings.
    case bus
    /// A bus reset that covers every function of the slot together (GPU and its audio function).
    case slot
    /// Remove every function of the slot and rescan the parent bridge only.
    case removeRescan = "remove-rescan"
    /// A vendor reset registered with the kernel (e.g. gnif/vendor-reset for AMD GPUs).
    case deviceSpecific = "device_specific"
    /// ACPI `_RST`.
    case acpi

    /// The order used when `reset_methods` is not set.
    public static let defaultOrder: [ResetMethod] = [.flr, .bus, .slot, .removeRescan]
}
