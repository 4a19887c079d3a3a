/// Whether a function is healthy after its VM released it, and if not, why.
///
/// Decided from what the function shows, never from its model: gone from sysfs, config space reading all ones
/// (`0xffff`: off the bus), a power state the target driver does not leave an idle device in, or vfio/PCI error
/// lines naming it in the domain or kernel log.
public struct StuckAssessment: Sendable, Equatable {
    public let address: PCIAddress
    /// Empty when healthy.
    public let reasons: [String]
    public var isStuck: Bool { !reasons.isEmpty }

    /// Power states vfio-pci leaves an idle function in: D0, or D3hot when it has power management.
    public static let idlePowerStates: Set<String> = ["D0", "D3hot"]

    /// Kernel and QEMU messages that mean a function is wedged (prior-art §3).
    public static let errorPatterns = [
        "not ready", "Unable to change power state", "Unknown PCI header type", "vfio_err_notifier_handler",
        "Unable to power on device", "stuck in D3", "fallen off the bus", "Cannot reset device",
        "timed out waiting for pending transaction", "AER: Uncorrected",
    ]

    public static func assess(address: PCIAddress, device: PCIDevice?, logLines: [String]) -> StuckAssessment {
        var reasons: [String] = []
        if let device {
            if device.configVendorID == 0xFFFF { reasons.append("config space reads 0xffff (device off the bus)") }
            if let state = device.powerState, !idlePowerStates.contains(state) {
                reasons.append("power state \(state)")
            }
        } else {
            reasons.append("gone from sysfs")
        }
        let name = address.description
        let short = String(name.dropFirst(5))  // QEMU and some kernel lines print BB:DD.F
        for line in logLines where line.contains(name) || line.contains(short) {
            if let pattern = errorPatterns.first(where: { line.contains($0) }) {
                reasons.append("log: \(pattern): \(line.suffix(160))")
            }
        }
        return StuckAssessment(address: address, reasons: reasons)
    }
}
