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
        let port = device?.parentBridge
        for line in logLines {
            guard let pattern = PCIErrorPattern.first(in: line[...]) else { continue }
            let named: Bool
            switch pattern.scope {
            case .function: named = names(line, address)
            case .port: named = names(line, address) || port.map { names(line, $0) } ?? false
            }
            if named { reasons.append("log: \(pattern.name): \(line.suffix(160))") }
        }
        return StuckAssessment(address: address, reasons: reasons)
    }

    /// Whether `line` names `address`: in full (`0000:01:00.0`), or as QEMU and some kernel lines print it
    /// (`01:00.0`) — not as the tail of a longer address (`0000:101:00.0` is not `01:00.0`).
    static func names(_ line: String, _ address: PCIAddress) -> Bool {
        let name = address.description
        if line.contains(name) { return true }
        let short = String(name.dropFirst(5))
        var rest = line[...]
        while let range = rest.firstRange(of: short) {
            let before = range.lowerBound == line.startIndex ? nil : line[line.index(before: range.lowerBound)]
            if before.map({ !$0.isHexDigit && $0 != ":" }) ?? true { return true }
            rest = line[range.upperBound...]
        }
        return false
    }
}
