/// One kernel message that means a PCI function is in trouble: wedged, off the bus, contained, powered off.
///
/// The single table of such messages (``PCIErrorPattern/all``), used by the stuck check (``StuckAssessment``),
/// the domain-log filter (``VFIOErrorMatcher``) and the daemon's kernel-log filter. Each entry says where the
/// message comes from in the kernel; the tests hold a real line for each, from the lab kernels' format strings.
public struct PCIErrorPattern: Sendable, Equatable {
    /// Whom the line names.
    public enum Scope: Sendable, Equatable {
        /// The function itself (`vfio-pci 0000:01:00.0: …`, or `… received from 0000:01:00.0`).
        case function
        /// The function's upstream port (`pcieport 0000:00:03.0: pciehp: Slot(1): Link Down`): DPC and hotplug
        /// report on the port, and what happens to the port happens to everything below it.
        case port
    }

    /// A short reason for people (`AER uncorrectable`).
    public let name: String
    /// Substrings that must all appear, in this order.
    public let fragments: [String]
    public let scope: Scope
    /// Where the kernel prints it, and since when.
    public let source: String

    public func matches(_ line: Substring) -> Bool {
        var rest = line
        for fragment in fragments {
            guard let range = rest.firstRange(of: fragment) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }

    /// The table. Order matters only for the reason shown: the first match names it.
    public static let all: [PCIErrorPattern] = [
        PCIErrorPattern(name: "AER uncorrectable", fragments: ["Uncorrectable (Non-Fatal)"], scope: .function,
            source: "drivers/pci/pcie/aer.c, since about 6.8 (spec terms): 'AER: %s%s error message received from "
                + "%04x:%02x:%02x.%d' and 'PCIe Bus Error: severity=%s'"),
        PCIErrorPattern(name: "AER uncorrectable fatal", fragments: ["Uncorrectable (Fatal)"], scope: .function,
            source: "drivers/pci/pcie/aer.c, since about 6.8"),
        PCIErrorPattern(name: "AER uncorrected", fragments: ["Uncorrected (Non-Fatal)"], scope: .function,
            source: "drivers/pci/pcie/aer.c up to 6.7 (6.1: 'Uncorrected (Non-Fatal)')"),
        PCIErrorPattern(name: "AER uncorrected fatal", fragments: ["Uncorrected (Fatal)"], scope: .function,
            source: "drivers/pci/pcie/aer.c up to 6.7"),
        PCIErrorPattern(name: "DPC containment", fragments: ["DPC: containment event"], scope: .port,
            source: "drivers/pci/pcie/dpc.c dpc_process_error: 6.1 'containment event, status:%#06x source:%#06x', "
                + "6.12 '… status:%#06x, %s received from %04x:%02x:%02x.%d'"),
        PCIErrorPattern(name: "hotplug link down", fragments: ["pciehp: Slot(", "Link Down"], scope: .port,
            source: "drivers/pci/hotplug/pciehp_ctrl.c: 'Slot(%s): Link Down' (6.1, 6.12)"),
        PCIErrorPattern(name: "hotplug card not present", fragments: ["pciehp: Slot(", "Card not present"],
            scope: .port, source: "drivers/pci/hotplug/pciehp_ctrl.c: 'Slot(%s): Card not present' (6.1, 6.12)"),
        PCIErrorPattern(name: "D3cold: device inaccessible",
            fragments: ["Unable to change power state from D3cold to D0, device inaccessible"], scope: .function,
            source: "drivers/pci/pci.c pci_power_up: 'Unable to change power state from %s to D0, device "
                + "inaccessible' (6.1, 6.12)"),
        PCIErrorPattern(name: "power state change failed", fragments: ["Unable to change power state"],
            scope: .function, source: "drivers/pci/pci.c: 'Unable to change power state from %s to %s, device "
                + "inaccessible' (6.1, 6.12)"),
        PCIErrorPattern(name: "not ready after reset", fragments: ["not ready ", "ms after"], scope: .function,
            source: "drivers/pci/pci.c pci_dev_wait: 'not ready %dms after %s; giving up' (6.1, 6.12)"),
        PCIErrorPattern(name: "unknown header type", fragments: ["unknown header type", "ignoring device"],
            scope: .function, source: "drivers/pci/probe.c: 'unknown header type %02x, ignoring device' (6.1, 6.12)"),
        PCIErrorPattern(name: "unknown header type", fragments: ["Unknown PCI header type"], scope: .function,
            source: "QEMU's vfio reading a config space of all ones (prior-art §3)"),
        PCIErrorPattern(name: "power on failed", fragments: ["Unable to power on device"], scope: .function,
            source: "prior-art §3 (field reports)"),
        PCIErrorPattern(name: "stuck in D3", fragments: ["stuck in D3"], scope: .function,
            source: "vendor drivers (prior-art §3)"),
        PCIErrorPattern(name: "fallen off the bus", fragments: ["fallen off the bus"], scope: .function,
            source: "NVIDIA driver: 'GPU has fallen off the bus'"),
        PCIErrorPattern(name: "reset impossible", fragments: ["Cannot reset device"], scope: .function,
            source: "QEMU hw/vfio/pci.c: 'Cannot reset device %s, no available reset mechanism.'"),
        PCIErrorPattern(name: "pending transactions", fragments: ["timed out waiting for pending transaction"],
            scope: .function, source: "drivers/pci/pci.c pci_wait_for_pending_transaction"),
        PCIErrorPattern(name: "vfio error notifier", fragments: ["vfio_err_notifier_handler"], scope: .function,
            source: "QEMU hw/vfio/pci.c: 'vfio_err_notifier_handler(%s) Unrecoverable error detected'"),
    ]

    /// The first pattern `line` matches.
    public static func first(in line: Substring) -> PCIErrorPattern? { all.first { $0.matches(line) } }
}

/// Recognises the vfio and PCI error lines worth keeping for the stuck check.
///
/// The kernel's messages are ``PCIErrorPattern/all``; on top of those, messages from QEMU (`hw/vfio/pci.c`,
/// `hw/vfio/common.c`) and libvirt that are worth keeping with a stop but do not by themselves mean a wedged
/// device (see `prior-art.md` §3). A general rule catches other vfio failures: the word `vfio` together with an
/// error word.
public enum VFIOErrorMatcher {
    /// QEMU and libvirt substrings kept on their own.
    public static let markers = [
        "is not viable",
        "error getting device from group",
        "no available reset mechanism",
    ]

    private static let errorWords = ["error", "fail", "unable", "cannot", "timed out", "giving up"]

    /// Whether `message` (a log line without its timestamp) reports a vfio/PCI problem.
    public static func isError(_ message: Substring) -> Bool {
        if PCIErrorPattern.first(in: message) != nil { return true }
        if markers.contains(where: { message.contains($0) }) { return true }
        let lower = message.lowercased()
        return lower.contains("vfio") && errorWords.contains(where: { lower.contains($0) })
    }

    public static func isError(_ message: String) -> Bool { isError(message[...]) }
}
