/// The state of one function as `gpumon status` reports it.
public enum DeviceState: String, Sendable, Codable, CaseIterable {
    /// Selected and on the target driver.
    case ok
    /// Selected but bound to another driver (nvidia, nouveau, amdgpu, snd_hda_intel…).
    case hostDriver = "host-driver"
    /// Selected and bound to no driver.
    case unbound
    /// Named in the config by address but not present in sysfs.
    case missing
    /// Found wedged after a VM stopped (set by the daemon).
    case stuck
    /// A reset is in progress (set by the daemon).
    case resetting
    /// The reset budget is spent; left alone until `gpumon clear` (set by the daemon).
    case quarantined
    /// Held open by a process through `/dev/vfio/<group>` (set by the daemon).
    case inUse = "in-use"
    /// Not selected by the config (listed with `--all` only).
    case unselected

    /// The state sysfs alone shows for a selected device.
    public static func observed(driver: String?, targetDriver: String) -> DeviceState {
        switch driver {
        case nil: return .unbound
        case targetDriver?: return .ok
        default: return .hostDriver
        }
    }
}
