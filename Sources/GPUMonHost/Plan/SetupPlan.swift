/// Everything `setup` would do: file changes, then the commands that make them take effect, and whether a reboot
/// is needed. An empty plan means the host is already prepared.
public struct SetupPlan: Sendable, Equatable {
    public var changes: [FileChange] = []
    /// Regeneration commands, in order (GRUB, then the initramfs); empty when no file they depend on changed.
    public var commands: [PlannedCommand] = []
    /// Parts that could not be planned (a GRUB line gpumon will not edit); the rest of the plan still holds.
    public var problems: [String] = []
    /// Explanations of choices (IDs left out, drivers not blacklisted).
    public var notes: [String] = []
    /// Why a reboot is needed; `nil` when none is.
    public var rebootReason: String?

    public init() {}

    /// Whether applying would change nothing.
    public var isEmpty: Bool { changes.isEmpty && commands.isEmpty }
}
