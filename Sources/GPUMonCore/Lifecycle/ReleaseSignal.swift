/// A sign that a VM let go of PCI functions: its domain log said `shutting down`, libvirt's hook said
/// `stopped end`, or the process holding the functions' `/dev/vfio/<group>` exited. The three arrive for the same
/// stop; the daemon turns them into one release per function.
///
/// The same sources also say when a VM *started* on the functions (``Kind/started``): the log's `starting up`
/// header, the hook's `prepare begin`, a new process opening the group. A stop is a new one exactly when the slot
/// was started again after the last stop gpumon handled: that is the VM-run identity that tells a quick second
/// run from the late signals of the first (see `VMLifecycle`).
public struct ReleaseSignal: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The VM let go of the functions.
        case stopped
        /// A VM (run) was started with the functions.
        case started
    }

    public enum Source: String, Sendable, Codable, CaseIterable {
        /// A libvirt domain log (`/var/log/libvirt/qemu/<domain>.log`).
        case log
        /// libvirt's qemu hook (`gpumon hook`).
        case hook
        /// The process-events connector: the VMM process exited.
        case process
    }

    public var source: Source
    public var kind: Kind
    /// A stop whose run's start was seen in the same breath (a log whose `starting up` block ended with the
    /// `shutting down` line): count the start first.
    public var includesStart: Bool
    /// The libvirt domain, when known (`instance-0000001a`).
    public var domain: String?
    /// The functions the VM had (its `<hostdev>` or `-device vfio-pci,host=` entries).
    public var addresses: [PCIAddress]
    /// `shutting down, reason=…` or the hook's release reason, when known.
    public var reason: String?
    /// vfio/PCI error lines about these functions seen while the VM ran (domain log), for the stuck check.
    public var errorLines: [String]

    public init(source: Source, domain: String?, addresses: [PCIAddress], reason: String? = nil,
        errorLines: [String] = [], kind: Kind = .stopped, includesStart: Bool = false) {
        self.source = source
        self.kind = kind
        self.includesStart = includesStart
        self.domain = domain
        self.addresses = addresses
        self.reason = reason
        self.errorLines = errorLines
    }
}
