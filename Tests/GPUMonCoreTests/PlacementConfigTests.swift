import GPUMonCore
import HostFS
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct PlacementConfigTests {
    let gpu = "[[gpu]]\nids = [\"10de:2204\"]\n"

    func parse(_ placement: String) throws(ConfigError) -> Config {
        try ConfigLoader.parse(gpu + "\n[placement]\n" + placement, file: "t.toml")
    }

    func error(_ placement: String) -> String? {
        do {
            _ = try parse(placement)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func absentOrEmptyURLIsOff() throws {
        #expect(try ConfigLoader.parse(gpu, file: "t.toml").placement.enabled == false)
        #expect(try parse("url = \"\"").placement.enabled == false)
    }

    @Test func keystoneConfigReadsEveryKey() throws {
        let config = try parse("""
            url = "http://placement.example:8778"
            auth = "keystone"
            auth_url = "http://keystone.example:5000/v3"
            application_credential_id = "abc123"
            application_credential_secret = "s3cret-value"
            hypervisor_hostname = "compute-01"
            sync_interval = "2m"
            request_timeout = "5s"
            """)
        let p = config.placement
        #expect(p.url == "http://placement.example:8778")
        #expect(p.auth == .keystone)
        #expect(p.authURL == "http://keystone.example:5000/v3")
        #expect(p.applicationCredentialID == "abc123")
        #expect(p.applicationCredentialSecret?.value == "s3cret-value")
        #expect(p.hypervisorHostname == "compute-01")
        #expect(p.syncInterval == .seconds(120))
        #expect(p.requestTimeout == .seconds(5))
        // The secret never prints.
        #expect(!"\(config)".contains("s3cret-value"))
        #expect(!String(reflecting: config).contains("s3cret-value"))
    }

    @Test func noauthNeedsNoCredential() throws {
        let config = try parse("url = \"http://127.0.0.1:8778\"\nauth = \"noauth\"")
        #expect(config.placement.auth == .noauth)
        #expect(config.placement.enabled)
    }

    @Test func badValuesNameTheKeyAndLine() {
        #expect(error("url = \"placement:8778\"")
            == "t.toml:5: placement.url: must be an http:// or https:// URL such as \"http://placement:8778\"")
        #expect(error("url = \"http://p\"\nauth = \"token\"")
            == "t.toml:6: placement.auth: invalid value \"token\": expected one of keystone, noauth")
        #expect(error("url = \"http://p\"")?.contains("placement.auth_url: is required with auth = \"keystone\"") == true)
        #expect(error("url = \"http://p\"\nauth_url = \"http://k/v3\"")?
            .contains("placement.application_credential_id: is required") == true)
        #expect(error("url = \"http://p\"\nauth_url = \"http://k/v3\"\napplication_credential_id = \"i\"")?
            .contains("placement.application_credential_secret: is required") == true)
        #expect(error("url = \"http://p\"\nauth = \"noauth\"\napplication_credential_secret = \"x\"")?
            .contains("never uses it") == true)
        #expect(error("sync_interval = \"1s\"") == "t.toml:5: placement.sync_interval: must be at least 5s")
        #expect(error("hypervisor_hostname = \"a b\"")?.contains("placement.hypervisor_hostname") == true)
        #expect(error("uri = \"http://p\"")?.contains("unknown key") == true)
    }

    @Test func aSecretInAReadableFileIsRefused() throws {
        let dir = "/tmp/gpumon-placement-config-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        let tree = FileTree(root: "/")
        try tree.createDirectory(dir)
        defer { _ = try? tree.removeFile(dir + "/gpumon.toml") }
        let text = gpu + """

            [placement]
            url = "http://p:8778"
            auth_url = "http://k:5000/v3"
            application_credential_id = "id"
            application_credential_secret = "do-not-print-me"
            """
        try tree.writeFileAtomically(text, to: dir + "/gpumon.toml",
            permissions: [.ownerReadWrite, .groupRead, .otherRead])
        do {
            _ = try ConfigLoader.load(path: dir + "/gpumon.toml")
            Issue.record("a world-readable secret was accepted")
        } catch {
            #expect(error.description.contains("mode is 644"))
            #expect(error.description.contains("chmod 600"))
            #expect(!error.description.contains("do-not-print-me"))
        }
        try tree.writeFileAtomically(text, to: dir + "/gpumon.toml", permissions: [.ownerReadWrite])
        #expect(try ConfigLoader.load(path: dir + "/gpumon.toml").placement.applicationCredentialSecret != nil)
    }
}
