public import HostFS

/// Human names from the PCI ID database (`pci.ids`, shipped by Debian's `pci.ids` and RHEL's `hwdata`).
///
/// Absent or unreadable databases give no names, never errors: names are for people, not for decisions.
public struct PCIIDDatabase: Sendable {
    /// Where distributions install the database, relative to `/`.
    public static let defaultLocations = ["usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids"]

    private var vendors: [UInt16: String] = [:]
    private var devices: [PCIID: String] = [:]

    /// An empty database: every lookup returns `nil`.
    public init() {}

    /// Loads the first database found among `locations` under `tree`.
    public init(tree: FileTree, locations: [String] = PCIIDDatabase.defaultLocations) {
        for location in locations {
            if let text = try? tree.readString(location, maxBytes: 16 << 20) {
                self.init(parsing: text)
                return
            }
        }
        self.init()
    }

    /// Parses the `pci.ids` text format: vendor lines at column 0, device lines after one tab; subsystem lines
    /// (two tabs) and the class section (`C …`) are skipped.
    public init(parsing text: String) {
        var currentVendor: UInt16?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let first = line.first, first != "#" else { continue }
            if first == "C" && line.hasPrefix("C ") {
                currentVendor = nil  // the class section follows the vendor list; nothing after it is a device
                continue
            }
            if first == "\t" {
                guard let vendor = currentVendor, !line.hasPrefix("\t\t") else { continue }
                let body = line.dropFirst()
                guard let (id, name) = PCIIDDatabase.splitIDLine(body) else { continue }
                devices[PCIID(vendor: vendor, device: id)] = name
            } else if let (id, name) = PCIIDDatabase.splitIDLine(line) {
                vendors[id] = name
                currentVendor = id
            } else {
                currentVendor = nil
            }
        }
    }

    private static func splitIDLine(_ line: Substring) -> (UInt16, String)? {
        let idText = line.prefix(4)
        guard idText.count == 4, let id = UInt16(idText, radix: 16) else { return nil }
        let name = line.dropFirst(4).drop(while: { $0 == " " || $0 == "\t" })
        guard !name.isEmpty else { return nil }
        return (id, String(name))
    }

    public func vendorName(_ vendor: UInt16) -> String? { vendors[vendor] }
    public func deviceName(_ id: PCIID) -> String? { devices[id] }

    /// "Vendor Device" when both are known, the vendor alone, or `nil`.
    public func name(for id: PCIID) -> String? {
        switch (vendorName(id.vendor), deviceName(id)) {
        case (let vendor?, let device?): return "\(vendor) \(device)"
        case (let vendor?, nil): return "\(vendor) device \(id.deviceHex)"
        default: return nil
        }
    }
}
