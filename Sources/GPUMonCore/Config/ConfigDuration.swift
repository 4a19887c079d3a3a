/// Parses the duration strings used in the config: a sequence of number+unit, e.g. `30s`, `10m`, `1h30m`,
/// `500ms`. Units: `ms`, `s`, `m`, `h`, `d`.
public enum ConfigDuration {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let input: String
        public init(input: String) { self.input = input }
        public var description: String {
            "invalid duration \"\(input)\": expected a number with a unit (ms, s, m, h, d), e.g. \"30s\" or \"10m\""
        }
    }

    public static func parse(_ text: String) throws(ParseError) -> Duration {
        var total: Int64 = 0  // milliseconds
        var index = text.startIndex
        guard !text.isEmpty else { throw ParseError(input: text) }
        while index < text.endIndex {
            let digitsEnd = text[index...].firstIndex(where: { !$0.isASCII || !$0.isNumber }) ?? text.endIndex
            guard digitsEnd > index, let number = Int64(text[index..<digitsEnd]) else { throw ParseError(input: text) }
            let unitEnd = text[digitsEnd...].firstIndex(where: { $0.isASCII && $0.isNumber }) ?? text.endIndex
            let factor: Int64
            switch text[digitsEnd..<unitEnd] {
            case "ms": factor = 1
            case "s": factor = 1000
            case "m": factor = 60_000
            case "h": factor = 3_600_000
            case "d": factor = 86_400_000
            default: throw ParseError(input: text)
            }
            let (product, overflow) = number.multipliedReportingOverflow(by: factor)
            guard !overflow, total <= Int64.max - product else { throw ParseError(input: text) }
            total += product
            index = unitEnd
        }
        return .milliseconds(total)
    }

    /// The shortest config spelling of a duration (`600s` → `10m`).
    public static func format(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for (unit, factor) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where ms != 0 && ms % factor == 0 {
            return "\(ms / factor)\(unit)"
        }
        return "\(ms)ms"
    }
}
