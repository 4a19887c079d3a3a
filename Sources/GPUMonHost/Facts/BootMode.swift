/// How the firmware booted the running system. The kernel exposes `/sys/firmware/efi` only when booted by UEFI.
public enum BootMode: String, Sendable, Codable {
    case bios
    case uefi

    /// The name operators use (`BIOS`, `UEFI`).
    public var displayName: String { rawValue.uppercased() }
}
