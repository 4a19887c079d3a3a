import Foundation
public import GPUMonCore

/// Supplies the `X-Auth-Token` for Placement requests.
///
/// - `keystone`: a Keystone v3 token from an application credential (`POST {auth_url}/auth/tokens`, the token in
///   the `X-Subject-Token` header), cached until five minutes before it expires or until Placement answers 401.
/// - `noauth`: Placement's `auth_strategy = noauth2` takes the token as `user[:project]` and gives the user
///   `admin` the admin role (`placement/auth.py`, `NoAuthMiddleware`), so the token is the fixed string `admin`.
///
/// Neither the secret nor a token is ever logged or put into an error.
public actor Authenticator {
    private let placement: Config.Placement
    private let transport: any HTTPTransport
    private var token: (value: String, renewAfter: Date)?

    public init(placement: Config.Placement, transport: any HTTPTransport) {
        self.placement = placement
        self.transport = transport
    }

    public func currentToken() async throws(PlacementError) -> String {
        switch placement.auth {
        case .noauth:
            return "admin"
        case .keystone:
            if let token, Date() < token.renewAfter { return token.value }
            let fresh = try await authenticate()
            token = fresh
            return fresh.value
        }
    }

    /// Placement answered 401: the token was revoked or expired early.
    public func invalidate() { token = nil }

    private struct Request: Encodable {
        struct Auth: Encodable {
            struct Identity: Encodable {
                struct Credential: Encodable {
                    let id: String
                    let secret: String
                }
                let methods = ["application_credential"]
                let application_credential: Credential
            }
            let identity: Identity
        }
        let auth: Auth
    }

    private struct Response: Decodable {
        struct Token: Decodable { let expires_at: String? }
        let token: Token
    }

    private func authenticate() async throws(PlacementError) -> (value: String, renewAfter: Date) {
        guard let authURL = placement.authURL, let id = placement.applicationCredentialID,
            let secret = placement.applicationCredentialSecret
        else { throw .authentication("auth_url, application_credential_id and _secret are required") }
        let url = Self.tokensURL(authURL)
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(Request(auth: .init(identity: .init(
                application_credential: .init(id: id, secret: secret.value))))))
        } catch {
            throw .authentication("cannot encode the request")
        }
        let exchange = try await transport.send(method: "POST", url: url,
            headers: [("Content-Type", "application/json"), ("Accept", "application/json")],
            body: body, timeout: placement.requestTimeout)
        guard exchange.status == 201 || exchange.status == 200 else {
            if exchange.status >= 500 {
                throw .http(status: exchange.status, method: "POST", url: url, detail: "")
            }
            // The body of a 401 names no secret, but keep it out anyway: the status says enough.
            throw .authentication("\(url) answered HTTP \(exchange.status) for application credential \(id)")
        }
        guard let value = exchange.headers["x-subject-token"], !value.isEmpty else {
            throw .authentication("\(url) answered without an X-Subject-Token header")
        }
        var renewAfter = Date().addingTimeInterval(30 * 60)
        if let response = try? JSONDecoder().decode(Response.self, from: Data(exchange.body)),
            let text = response.token.expires_at, let expires = Self.parseTime(text)
        {
            renewAfter = expires.addingTimeInterval(-5 * 60)
        }
        return (value, renewAfter)
    }

    /// `{auth_url}/auth/tokens`; an `auth_url` without the `/v3` suffix gets it.
    static func tokensURL(_ authURL: String) -> String {
        var base = authURL
        while base.hasSuffix("/") { base.removeLast() }
        if !base.hasSuffix("/v3") { base += "/v3" }
        return base + "/auth/tokens"
    }

    /// Keystone writes `2026-12-02T13:04:20.000000Z`.
    static func parseTime(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: text) { return date }
        return ISO8601DateFormatter().date(from: text)
    }
}
