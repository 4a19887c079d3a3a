/// A sign that a VM let go of PCI functions: its domain log said `shutting down`, libvirt's hook said
/// `stopped end`, or the process holding the functions' `/dev/vfio/<group>` exited. The three arrive for the same
/// stop; the daemon turns them into one release per function.
public struct ReleaseSignal: Sendable, Equatable {
    public enum Source: String, Sendable, Codable, CaseIterable {
        /// A libvirt domain log (`/var/log/libvirt/qemu/<domain>.log`).
        case log
        /// libvirt's qemu hook (`gpumon hook`).
        case hook
        /// The process-events connector: the VMM process exited.
        case process
    }

    public var source: Source
    /// The libvirt domain, when known (`instance-0000001a`).
    public var domain: String?
    /// The functions the VM had (its `<hostdev>` or `-device vfio-pci,host=` entries).
    public var addresses: [PCIAddress]
    /// `shutting down, reason=…` or the hook's release reason, when known.
    public var reason: String?
    /// vfio/PCI error lines about these functions seen while the VM ran (domain log), for the stuck check.
    public var errorLines: [String]

    public init(source: Source, domain: String?, addresses: [PCIAddress], reason: String? = nil,
        errorLines: [String] = []) {
        self.source = source
        self.domain = domain
        self.addresses = addresses
        self.reason = reason
        self.errorLines = errorLines
    }
}
