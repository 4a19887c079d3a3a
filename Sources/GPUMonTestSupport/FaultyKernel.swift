public import GPUMonCore
public import HostFS
import Dispatch
public import SystemPackage

/// A ``FakeKernel`` behind a fault injector: the daemon's writer in fault-injection tests. Each write is numbered
/// from 0; a fault planned for write N replaces (or precedes) it:
/// - ``Fault/fail(_:)``: the write fails with an errno (`EIO`, `ENODEV`, `EBUSY`…) and changes nothing;
/// - ``Fault/hang``: the write never returns (until ``releaseHung()``, then fails with `EIO` having done nothing),
///   like an `unbind` stuck in a driver or a `reset` waiting for a device that never comes back;
/// - ``Fault/vanish``: the device the write names (or the given one) is hot-removed first, then the write runs
///   and sees it gone (`ENODEV`);
/// - ``Fault/before(_:)``: runs an action, then the write (a VM opening the group in the middle of a reset).
public final class FaultyKernel: @unchecked Sendable {
    public enum Fault: Sendable {
        case fail(Errno)
        case hang
        case vanish(PCIAddress?)
        case before(@Sendable () -> Void)
    }

    public let kernel: FakeKernel
    /// Planned faults by write number.
    public var faults: [Int: Fault] = [:]
    /// The device a ``Fault/vanish(_:)`` without an address removes when the write names none (`new_id`, a bus
    /// rescan).
    public var vanishFallback: PCIAddress?
    /// Every write attempted (faulted or not), in order, as `path <- value`.
    public private(set) var attempts: [String] = []
    private let hung = DispatchSemaphore(value: 0)
    private var hungCount = 0

    public init(kernel: FakeKernel) { self.kernel = kernel }

    /// Forgets the attempts and planned faults (after a test's set-up).
    public func resetLog() {
        attempts = []
        faults = [:]
    }

    /// Writes attempted so far.
    public var count: Int { attempts.count }

    public func write(_ value: String, to relative: String) throws(FSError) {
        let index = attempts.count
        attempts.append("\(relative) <- \(value)")
        func error(_ errno: Errno) -> FSError { FSError(operation: "write", path: kernel.sys.tree.path(relative), errno: errno) }
        switch faults[index] {
        case nil:
            break
        case .fail(let errno):
            throw error(errno)
        case .hang:
            hungCount += 1
            hung.wait()
            throw error(.ioError)
        case .vanish(let address):
            if let address = address ?? FaultyKernel.deviceNamed(by: relative, value: value) ?? vanishFallback {
                try? kernel.sys.remove(address)
            }
        case .before(let action):
            action()
        }
        try kernel.write(value, to: relative)
    }

    /// A fault for the VFIO hot reset (the slot method's one kernel call), which is not a sysfs write.
    public var hotResetFault: Fault?

    /// The VFIO hot reset through the injector: the engine's `hotReset` seam.
    public func hotReset(group: Int, device: String) -> String? {
        switch hotResetFault {
        case nil: break
        case .fail(let errno): return "VFIO_DEVICE_PCI_HOT_RESET: \(errno)"
        case .hang:
            hungCount += 1
            hung.wait()
            return "VFIO_DEVICE_PCI_HOT_RESET: interrupted"
        case .vanish(let address):
            if let address = address ?? PCIAddress(device) { try? kernel.sys.remove(address) }
            return "VFIO_DEVICE_PCI_HOT_RESET: No such device"
        case .before(let action): action()
        }
        return kernel.hotReset(group: group, device: device)
    }

    /// Lets every hung write return (with `EIO`, having done nothing). Call at the end of a test.
    public func releaseHung() {
        for _ in 0..<hungCount { hung.signal() }
        hungCount = 0
    }

    /// The PCI function a write is about: in its path (`bus/pci/devices/<addr>/…`) or its value (`unbind`); a
    /// bus rescan (`…/<bridge>/pci_bus/<bus>/rescan`) is about no function (not the bridge).
    public static func deviceNamed(by relative: String, value: String) -> PCIAddress? {
        if relative.contains("/pci_bus/") { return nil }
        if let address = relative.split(separator: "/").compactMap({ PCIAddress(String($0)) }).last { return address }
        return PCIAddress(value.trimmingCharacters())
    }

    /// Every address a write names, in its path or as its value.
    public static func addressesNamed(by attempt: String) -> [PCIAddress] {
        let halves = attempt.components(separatedBy: " <- ")
        var found = halves[0].split(separator: "/").compactMap { PCIAddress(String($0)) }
        if halves.count > 1, let address = PCIAddress(halves[1].trimmingCharacters()) { found.append(address) }
        return found
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }

    fileprivate func components(separatedBy separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            parts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}
