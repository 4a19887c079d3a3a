public import GPUMonCore

/// A request on the control socket: one JSON object on one line.
public struct ControlRequest: Codable, Sendable, Equatable {
    /// `status`, `ping`, `released` (a VM let go of functions), `started` (a VM run began), `gate` (may a VM
    /// about to start have these functions?), `reset`, `clear`.
    public var command: String
    /// `released`: where the news came from (`hook`, `log`, `process`).
    public var source: String?
    /// `released`, `started`, `gate`: the libvirt domain.
    public var domain: String?
    /// `released`, `reset`, `clear`: the functions concerned (`0000:01:00.0`).
    public var addresses: [String]?
    /// `released`: the hook's operation and sub-operation (`stopped end`) or the log's shutdown reason.
    public var reason: String?
    /// `reset`: the method to use instead of the configured order.
    public var method: String?
    /// `reset`: plan and log, write nothing.
    public var dryRun: Bool?

    public init(command: String, source: String? = nil, domain: String? = nil, addresses: [String]? = nil,
        reason: String? = nil, method: String? = nil, dryRun: Bool? = nil) {
        self.command = command
        self.source = source
        self.domain = domain
        self.addresses = addresses
        self.reason = reason
        self.method = method
        self.dryRun = dryRun
    }

    enum CodingKeys: String, CodingKey {
        case command, source, domain, addresses, reason, method
        case dryRun = "dry_run"
    }
}

/// The reply: `{"ok": true, "status": {…}}` or `{"ok": false, "error": "…"}`.
public struct ControlResponse: Codable, Sendable {
    public var ok: Bool
    public var error: String?
    public var status: StatusReport?
    /// What a `reset` or `clear` did, one line each, for people.
    public var lines: [String]?

    public init(ok: Bool, error: String? = nil, status: StatusReport? = nil, lines: [String]? = nil) {
        self.ok = ok
        self.error = error
        self.status = status
        self.lines = lines
    }

    public static func failure(_ message: String) -> ControlResponse { ControlResponse(ok: false, error: message) }
}
