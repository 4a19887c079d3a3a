/// Follows one domain across its log lines and says when the VM released functions.
///
/// Wraps a ``DomainLogParser`` and remembers, since the latest `starting up` block, the vfio-pci functions the
/// VM was given and the vfio/PCI error lines seen. A `shutting down` line then yields a ``ReleaseSignal`` with
/// `source: .log`; the memory is cleared so a stop is never reported twice from the same lines.
///
/// A stop is reported only when the latest start passed functions through: a VM without host devices is no
/// business of gpumon's, and a stop whose start is not in the log (rotated away) has no addresses to give.
public struct DomainLogTracker: Sendable {
    /// At most this many error lines are kept per run; later ones replace the oldest.
    public static let maxErrorLines = 64

    public let domain: String
    private var parser = DomainLogParser()
    /// The functions of the latest `starting up` block; empty after a stop.
    public private(set) var addresses: [PCIAddress] = []
    /// Error lines since the latest start.
    public private(set) var errorLines: [String] = []

    public init(domain: String) {
        self.domain = domain
    }

    /// Resumes a domain whose latest start (with `addresses`, then `errorLines`) was read by an earlier daemon:
    /// reading continues from the saved position without the file's history.
    public init(domain: String, resumingWith addresses: [PCIAddress], errorLines: [String] = []) {
        self.domain = domain
        self.addresses = addresses
        self.errorLines = Array(errorLines.suffix(DomainLogTracker.maxErrorLines))
    }

    /// Whether a `starting up` block is open: a position saved now must point at its start, or a restart would
    /// miss the functions it lists.
    public var isInsideStartBlock: Bool { parser.isInsideStartBlock }

    /// Feeds one complete line; returns the release it completes, if any, or the start of a run with functions
    /// (``ReleaseSignal/Kind/started``): the VM-run identity counts starts.
    public mutating func feed(_ line: Substring) -> ReleaseSignal? {
        var release: ReleaseSignal?
        var startedNow = false
        for event in parser.feed(line) {
            switch event {
            case .started(let started):
                addresses = started
                errorLines = []
                if !started.isEmpty {
                    startedNow = true
                    release = ReleaseSignal(source: .log, domain: domain, addresses: started, reason: "starting up",
                        kind: .started)
                }
            case .error(let text):
                if errorLines.count >= DomainLogTracker.maxErrorLines { errorLines.removeFirst() }
                errorLines.append(text)
            case .stopped(let reason):
                if !addresses.isEmpty {
                    // One line both ended the start block and stopped the VM: one signal carries both.
                    release = ReleaseSignal(
                        source: .log, domain: domain, addresses: addresses, reason: reason, errorLines: errorLines,
                        includesStart: startedNow)
                }
                addresses = []
                errorLines = []
            }
        }
        return release
    }

    public mutating func feed(_ line: String) -> ReleaseSignal? { feed(line[...]) }
}
