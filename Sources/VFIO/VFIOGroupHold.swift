internal import CVFIO

/// An open `/dev/vfio/<group>`: while gpumon holds it, no other process can open the group (the kernel admits one
/// opener and answers `EBUSY`), so a VM cannot start using the device while a reset runs. Released by
/// ``release()`` or when the value is deinitialised.
public final class VFIOGroupHold: @unchecked Sendable {
    public let group: Int
    /// Only the owner (the task running one reset step) calls ``release()``: no lock needed.
    private var fd: Int32

    /// Opens the group.
    /// - Throws: ``VFIOError``; errno `EBUSY` when another process has it open, `ENOENT` when the group has no
    ///   VFIO node (not on vfio-pci).
    public init(group: Int) throws(VFIOError) {
        var buffer = [CChar](repeating: 0, count: 256)
        let rc = cvfio_hold_group(Int32(group), &buffer, buffer.count)
        if rc < 0 {
            let message = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw VFIOError(errno: -rc, message: message)
        }
        self.group = group
        self.fd = rc
    }

    /// Closes the group; later calls do nothing.
    public func release() {
        let toClose = fd
        fd = -1
        cvfio_close(toClose)
    }

    deinit { cvfio_close(fd) }
}
