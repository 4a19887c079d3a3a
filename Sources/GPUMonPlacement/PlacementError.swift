/// Why a Placement request or sync failed. Descriptions never contain a token or a secret.
public enum PlacementError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection, a timeout, a TLS failure.
    case transport(String, url: String)
    /// An HTTP status gpumon did not expect, with the start of the body.
    case http(status: Int, method: String, url: String, detail: String)
    /// Keystone refused the application credential, or answered without a token.
    case authentication(String)
    /// A body that is not what the API documents.
    case decode(String, url: String)
    /// The compute node's provider is not in Placement.
    case noComputeNode(hostname: String)
    /// Another writer kept changing a provider (409 on every attempt).
    case conflict(provider: String, attempts: Int)

    public var description: String {
        switch self {
        case .transport(let message, let url): return "cannot reach \(url): \(message)"
        case .http(let status, let method, let url, let detail):
            return "\(method) \(url) answered HTTP \(status)" + (detail.isEmpty ? "" : ": \(detail)")
        case .authentication(let message): return "Keystone authentication failed: \(message)"
        case .decode(let message, let url): return "unexpected answer from \(url): \(message)"
        case .noComputeNode(let hostname):
            return "no resource provider named \"\(hostname)\" in Placement: set [placement] hypervisor_hostname "
                + "to this host's name in `openstack hypervisor list`"
        case .conflict(let provider, let attempts):
            return "provider \(provider) changed under gpumon \(attempts) times in a row (HTTP 409); giving up this round"
        }
    }

    /// Whether trying again later may help (the server or the network), as opposed to a configuration problem.
    public var isTransient: Bool {
        switch self {
        case .transport, .conflict: return true
        case .http(let status, _, _, _): return status >= 500 || status == 429 || status == 408
        case .authentication, .decode, .noComputeNode: return false
        }
    }
}
