/// A secret from the config (the application credential secret). Its description never shows the value, so a
/// config printed, logged or put into an error message cannot leak it.
public struct ConfigSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
}

extension Config {
    /// `[placement]`: reporting quarantined GPUs to OpenStack Placement (docs/placement.md).
    public struct Placement: Sendable, Equatable {
        public enum Auth: String, Sendable, Equatable, CaseIterable {
            /// Keystone v3 with an application credential.
            case keystone
            /// No Keystone: a standalone Placement with `auth_strategy = noauth2`.
            case noauth
        }

        /// The Placement endpoint; `nil` (empty or absent in the file) turns the integration off.
        public var url: String?
        public var auth: Auth = .keystone
        public var authURL: String?
        public var applicationCredentialID: String?
        public var applicationCredentialSecret: ConfigSecret?
        /// The compute node's name in Placement; `nil` means "as Nova's libvirt driver names this host".
        public var hypervisorHostname: String?
        /// How often the desired state is re-applied even when nothing changed here (Placement restarts, a
        /// one-time-use device whose allocation went away, someone else editing `reserved`).
        public var syncInterval: Duration = .seconds(60)
        /// One HTTP request's deadline.
        public var requestTimeout: Duration = .seconds(10)

        public var enabled: Bool { url != nil }

        public init() {}
    }
}

extension Config.Placement {
    /// The keys of `[placement]`, for the unknown-key check.
    static let keys: Set<String> = [
        "url", "auth", "auth_url", "application_credential_id", "application_credential_secret",
        "hypervisor_hostname", "sync_interval", "request_timeout",
    ]

    /// Checks the combination of keys once they are read (each key's own format is checked as it is read).
    /// Returns the key and the message of the first problem.
    func problem() -> (key: String, message: String)? {
        guard enabled else { return nil }
        switch auth {
        case .keystone:
            if authURL == nil {
                return ("placement.auth_url", "is required with auth = \"keystone\" (e.g. \"http://keystone:5000/v3\")")
            }
            if applicationCredentialID == nil {
                return ("placement.application_credential_id", "is required with auth = \"keystone\"")
            }
            if applicationCredentialSecret == nil {
                return ("placement.application_credential_secret", "is required with auth = \"keystone\"")
            }
        case .noauth:
            if applicationCredentialSecret != nil {
                return ("placement.application_credential_secret",
                    "is set but auth = \"noauth\" never uses it; remove it or set auth = \"keystone\"")
            }
        }
        return nil
    }

    /// Whether an HTTP(S) URL is usable: a scheme, a host, no whitespace.
    static func isHTTPURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return false }
        guard !text.contains(where: { $0.isWhitespace }) else { return false }
        let rest = text.drop(while: { $0 != ":" }).dropFirst(3)
        return !rest.isEmpty && rest.first != "/"
    }

    /// Whether a config file that holds a secret has safe permissions: readable by its owner only.
    /// `permissionBits` is `st_mode & 07777`.
    public static func secretFileProblem(permissionBits: UInt32) -> String? {
        guard permissionBits & 0o077 != 0 else { return nil }
        return "holds placement.application_credential_secret but its mode is "
            + String(permissionBits, radix: 8) + "; it must not be readable by group or others: chmod 600"
    }
}
