public import GPUMonCore

/// A request on the control socket: one JSON object on one line.
public struct ControlRequest: Codable, Sendable, Equatable {
    /// `status`, `ping`.
    public var command: String

    public init(command: String) { self.command = command }
}

/// The reply: `{"ok": true, "status": {…}}` or `{"ok": false, "error": "…"}`.
public struct ControlResponse: Codable, Sendable {
    public var ok: Bool
    public var error: String?
    public var status: StatusReport?

    public init(ok: Bool, error: String? = nil, status: StatusReport? = nil) {
        self.ok = ok
        self.error = error
        self.status = status
    }

    public static func failure(_ message: String) -> ControlResponse { ControlResponse(ok: false, error: message) }
}
