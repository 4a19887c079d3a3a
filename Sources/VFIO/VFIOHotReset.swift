internal import CVFIO

/// A failed VFIO operation: the step, and the errno the kernel gave.
public struct VFIOError: Error, Sendable, Equatable, CustomStringConvertible {
    public let errno: Int32
    public let message: String
    public var description: String { message }
}

/// Resets every function behind a bridge at once through VFIO, the way QEMU resets a multi-function slot
/// (GPU + HDMI audio) that has no FLR: `VFIO_DEVICE_PCI_HOT_RESET` on the group. No function is removed or
/// unbound, so no host driver ever gets a chance at the device.
public enum VFIOHotReset {
    /// Resets the bus that `device` (a function of IOMMU group `group`, bound to vfio-pci) sits on. `groups` are
    /// every group the reset may touch: the slot's functions can sit in several (after a rescan on some hosts).
    ///
    /// The corresponding C function is `cvfio_hot_reset` (ioctls `VFIO_GROUP_SET_CONTAINER`, `VFIO_SET_IOMMU`,
    /// `VFIO_GROUP_GET_DEVICE_FD`, `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO`, `VFIO_DEVICE_PCI_HOT_RESET`).
    /// - Throws: ``VFIOError`` naming the failed step; `EBUSY` when the group is held open elsewhere.
    public static func reset(group: Int, device: String, groups: [Int]) throws(VFIOError) {
        var buffer = [CChar](repeating: 0, count: 256)
        let allowed = groups.map(Int32.init)
        let rc = cvfio_hot_reset(Int32(group), device, allowed, Int32(allowed.count), &buffer, buffer.count)
        if rc < 0 {
            let message = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw VFIOError(errno: -rc, message: message)
        }
    }
}
