/// What one line (or one finished `starting up` block) of a libvirt domain log means to gpumon.
public enum DomainLogEvent: Sendable, Equatable {
    /// libvirt started QEMU: the `starting up` header and its command line, with every function passed through
    /// with vfio-pci (`-device '{"driver":"vfio-pci","host":"0000:01:00.0",…}'`), in command-line order.
    case started([PCIAddress])
    /// `shutting down, reason=destroyed`: QEMU is gone. The reason is `nil` when the line has none (old libvirt).
    case stopped(reason: String?)
    /// A vfio or PCI error line, kept whole (timestamp included) for the stuck check.
    case error(String)
}
