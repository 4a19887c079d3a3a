/// A vendor:device ID pair, as `lspci -nn` prints it (`10de:2204`).
public struct PCIID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let vendor: UInt16
    public let device: UInt16

    public init(vendor: UInt16, device: UInt16) {
        self.vendor = vendor
        self.device = device
    }

    /// Why a string is not a vendor:device pair.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let input: String
        public init(input: String) { self.input = input }
        public var description: String {
            "invalid PCI ID \"\(input)\": expected VENDOR:DEVICE as two 4-digit hex numbers, e.g. 10de:2204"
        }
    }

    /// Parses `VVVV:DDDD` (hex, case-insensitive, exactly four digits each).
    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 4 && $0.allSatisfy(\.isHexDigit) }),
            let vendor = UInt16(parts[0], radix: 16), let device = UInt16(parts[1], radix: 16)
        else { throw ParseError(input: text) }
        self.init(vendor: vendor, device: device)
    }

    public var vendorHex: String { hexString(vendor, width: 4) }
    public var deviceHex: String { hexString(device, width: 4) }
    public var description: String { vendorHex + ":" + deviceHex }

    public static func < (lhs: PCIID, rhs: PCIID) -> Bool { (lhs.vendor, lhs.device) < (rhs.vendor, rhs.device) }
}
