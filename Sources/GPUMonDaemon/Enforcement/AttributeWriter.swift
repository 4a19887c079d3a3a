public import HostFS

/// The narrow seam through which the daemon writes sysfs attributes. Production writes the real files
/// (``FileTree/writeAttribute(_:to:)``); tests substitute a fake kernel that applies the same semantics to a fake
/// tree (unbind removes the `driver` link, `drivers_probe` binds per `driver_override`…).
public protocol AttributeWriter: Sendable {
    func write(_ value: String, to relative: String) throws(FSError)
}

/// Writes attributes of a real sysfs tree.
public struct SysfsAttributeWriter: AttributeWriter {
    public let sysfs: FileTree
    public init(sysfs: FileTree) { self.sysfs = sysfs }
    public func write(_ value: String, to relative: String) throws(FSError) {
        try sysfs.writeAttribute(value, to: relative)
    }
}
