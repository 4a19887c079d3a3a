/// What libvirt passes to its qemu hook, and what gpumon makes of it.
///
/// libvirt runs `/etc/libvirt/hooks/qemu` (and each script in `/etc/libvirt/hooks/qemu.d/`, since 6.5.0) as
/// `<domain> <operation> <sub-operation> <extra>`, with the full domain XML on stdin. The operations that mean
/// "the VM let go of its devices" are `stopped end` (QEMU is gone, before labels are restored) and `release end`
/// (all resources released; the extra argument is the shutoff reason since libvirt 10.5, `-` before).
public struct HookInput: Sendable, Equatable {
    public var domain: String
    public var operation: String
    public var subOperation: String
    /// The fourth argument; `-` when libvirt has none.
    public var extra: String

    /// Parses the hook's arguments (without the program name); `nil` when fewer than three are given.
    ///
    /// The shipped hook script runs `gpumon hook -- "$@"`, so a domain named like an option (`--socket=…`) is
    /// never taken for one. libvirt always passes four arguments: five with a leading `--` means the separator,
    /// while four starting with `--` are a domain named `--`.
    public init?(arguments: [String]) {
        var arguments = arguments
        if arguments.count >= 5, arguments.first == "--" { arguments.removeFirst() }
        guard arguments.count >= 3 else { return nil }
        domain = arguments[0]
        operation = arguments[1]
        subOperation = arguments[2]
        extra = arguments.count > 3 ? arguments[3] : "-"
    }

    /// `stopped end` or `release end`: the VM released its devices.
    public var isRelease: Bool {
        subOperation == "end" && (operation == "stopped" || operation == "release")
    }

    /// `prepare begin` (a VM is about to start here) or `migrate begin` (an incoming migration is about to start
    /// here): the admission gate's question. The hook's only calls that may exit non-zero: libvirt then refuses the
    /// start with the hook's stderr as the error.
    public var isAdmission: Bool {
        subOperation == "begin" && (operation == "prepare" || operation == "migrate")
    }

    /// The reason gpumon reports: `<operation> <sub-operation>` (`stopped end`).
    public var reason: String { operation + " " + subOperation }

    /// The release this call announces, given the domain XML read from stdin; `nil` when the operation is not a
    /// release or the domain had no PCI host device.
    public func release(domainXML xml: String) -> ReleaseSignal? {
        guard isRelease else { return nil }
        let addresses = DomainXMLScanner.pciHostdevAddresses(in: xml)
        guard !addresses.isEmpty else { return nil }
        return ReleaseSignal(source: .hook, domain: domain, addresses: addresses, reason: reason)
    }
}
