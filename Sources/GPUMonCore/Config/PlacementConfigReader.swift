import HostFS
import SystemPackage
internal import TOMLKit

extension ConfigReader {
    /// `[placement]`; absent or `url = ""` leaves the integration off.
    func readPlacement(_ root: TOMLTable) throws(ConfigError) -> Config.Placement {
        var placement = Config.Placement()
        guard let table = try table(root, "placement") else { return placement }
        try checkKeys(table, path: "placement")
        if let value = try string(table, "url", path: "placement"), !value.isEmpty {
            guard Config.Placement.isHTTPURL(value) else {
                throw error("placement.url", "must be an http:// or https:// URL such as \"http://placement:8778\"")
            }
            placement.url = value
        }
        if let text = try string(table, "auth", path: "placement") {
            guard let value = Config.Placement.Auth(rawValue: text) else {
                throw error("placement.auth", "invalid value \"\(text)\": expected one of keystone, noauth")
            }
            placement.auth = value
        }
        if let value = try string(table, "auth_url", path: "placement"), !value.isEmpty {
            guard Config.Placement.isHTTPURL(value) else {
                throw error("placement.auth_url", "must be an http:// or https:// URL such as \"http://keystone:5000/v3\"")
            }
            placement.authURL = value
        }
        if let value = try string(table, "application_credential_id", path: "placement"), !value.isEmpty {
            guard value.allSatisfy({ !$0.isWhitespace }) else {
                throw error("placement.application_credential_id", "must not contain whitespace")
            }
            placement.applicationCredentialID = value
        }
        // The secret's value never appears in a message.
        if let value = try string(table, "application_credential_secret", path: "placement"), !value.isEmpty {
            placement.applicationCredentialSecret = ConfigSecret(value)
        }
        if let value = try string(table, "hypervisor_hostname", path: "placement"), !value.isEmpty {
            guard value.allSatisfy({ !$0.isWhitespace && $0 != "/" }) else {
                throw error("placement.hypervisor_hostname", "must be a host name without whitespace or '/'")
            }
            placement.hypervisorHostname = value
        }
        if let value = try duration(table, "sync_interval", path: "placement") {
            guard value >= .seconds(5) else { throw error("placement.sync_interval", "must be at least 5s") }
            placement.syncInterval = value
        }
        if let value = try duration(table, "request_timeout", path: "placement") {
            guard value >= .seconds(1) && value <= .seconds(300) else {
                throw error("placement.request_timeout", "must be 1s…300s")
            }
            placement.requestTimeout = value
        }
        if let (key, message) = placement.problem() { throw error(key, message) }
        return placement
    }
}

extension ConfigLoader {
    /// A config that holds a secret must be readable by its owner only: anyone who can read it can act on
    /// Placement as gpumon.
    static func checkSecretPermissions(_ config: Config, path: String) throws(ConfigError) {
        guard config.placement.applicationCredentialSecret != nil else { return }
        let metadata: FileMetadata?
        do {
            metadata = try FileTree(root: "/").metadata(path)
        } catch {
            throw ConfigError(file: path, line: 0, key: "", message: "cannot check the file's permissions: \(error.errno)")
        }
        guard let metadata else {
            throw ConfigError(file: path, line: 0, key: "", message: "config file does not exist")
        }
        if let message = Config.Placement.secretFileProblem(permissionBits: UInt32(metadata.permissions.rawValue)) {
            throw ConfigError(file: path, line: 0, key: "placement.application_credential_secret", message: message)
        }
    }
}
