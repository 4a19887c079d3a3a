/// A failed libnl-3 call: the call and libnl's message (`nl_geterror`).
public struct ProcEventsError: Error, Sendable, Equatable, CustomStringConvertible {
    public let operation: String
    public let message: String
    public var description: String { "\(operation): \(message)" }
}
