/// A PCI function address, `DDDD:BB:DD.F` (domain, bus, device, function), as sysfs names devices.
///
/// Parsing accepts the full form and the short `BB:DD.F` form (domain `0000`, as `lspci` prints it); anything
/// else is rejected with a ``PCIAddress/ParseError`` that says what was wrong.
public struct PCIAddress: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let domain: UInt32
    public let bus: UInt8
    public let device: UInt8
    public let function: UInt8

    public init(domain: UInt32 = 0, bus: UInt8, device: UInt8, function: UInt8) {
        precondition(device < 32 && function < 8, "PCI device must be < 32 and function < 8")
        self.domain = domain
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// Why a string is not a PCI address.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let input: String
        public let reason: String
        public init(input: String, reason: String) {
            self.input = input
            self.reason = reason
        }
        public var description: String { "invalid PCI address \"\(input)\": \(reason)" }
    }

    /// Parses `DDDD:BB:DD.F` or `BB:DD.F` (hex, case-insensitive).
    public init(parsing text: String) throws(ParseError) {
        func fail(_ reason: String) -> ParseError { ParseError(input: text, reason: reason) }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let domainText: Substring
        let busText: Substring
        let slotText: Substring
        switch parts.count {
        case 3: (domainText, busText, slotText) = (parts[0], parts[1], parts[2])
        case 2: (domainText, busText, slotText) = ("0000", parts[0], parts[1])
        default: throw fail("expected DDDD:BB:DD.F or BB:DD.F")
        }
        let slotParts = slotText.split(separator: ".", omittingEmptySubsequences: false)
        guard slotParts.count == 2 else { throw fail("expected DD.F after the bus, e.g. 01:00.0") }
        // Domains are 4 hex digits on most hosts; VMD domains have 5 (10000:…), so allow up to 8.
        guard (4...8).contains(domainText.count), let domain = PCIAddress.hex(domainText, as: UInt32.self) else {
            throw fail("domain \"\(domainText)\" is not 4 hex digits")
        }
        guard busText.count == 2, let bus = PCIAddress.hex(busText, as: UInt8.self) else {
            throw fail("bus \"\(busText)\" is not 2 hex digits")
        }
        guard slotParts[0].count == 2, let device = PCIAddress.hex(slotParts[0], as: UInt8.self), device < 32 else {
            throw fail("device \"\(slotParts[0])\" is not 2 hex digits below 20")
        }
        guard slotParts[1].count == 1, let function = PCIAddress.hex(slotParts[1], as: UInt8.self), function < 8
        else {
            throw fail("function \"\(slotParts[1])\" is not a digit 0-7")
        }
        self.init(domain: domain, bus: bus, device: device, function: function)
    }

    /// `nil` instead of an error, for scanning names that may not be addresses (sysfs directory entries).
    public init?(_ text: String) {
        guard let parsed = try? PCIAddress(parsing: text) else { return nil }
        self = parsed
    }

    private static func hex<T: FixedWidthInteger>(_ text: Substring, as: T.Type) -> T? {
        guard text.allSatisfy(\.isHexDigit) else { return nil }
        return T(text, radix: 16)
    }

    /// The slot this function belongs to: same domain, bus and device, every function of a multi-function card.
    public var slot: PCISlot { PCISlot(domain: domain, bus: bus, device: device) }

    public var description: String {
        hexString(domain, width: 4) + ":" + hexString(bus, width: 2) + ":" + hexString(device, width: 2) + "."
            + String(function)
    }

    public static func < (lhs: PCIAddress, rhs: PCIAddress) -> Bool {
        (lhs.domain, lhs.bus, lhs.device, lhs.function) < (rhs.domain, rhs.bus, rhs.device, rhs.function)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try PCIAddress(parsing: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A PCI slot (`DDDD:BB:DD`): the functions of one physical card share it.
public struct PCISlot: Hashable, Sendable, CustomStringConvertible {
    public let domain: UInt32
    public let bus: UInt8
    public let device: UInt8
    public var description: String {
        hexString(domain, width: 4) + ":" + hexString(bus, width: 2) + ":" + hexString(device, width: 2)
    }
}

/// Lower-case hex, zero-padded to `width` digits.
func hexString<T: BinaryInteger>(_ value: T, width: Int) -> String {
    let digits = String(value, radix: 16)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
