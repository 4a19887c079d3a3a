import Foundation
public import GPUMonCore

/// The Placement API calls gpumon makes, at one pinned microversion.
///
/// 1.26 is the first that accepts `reserved == total` on an inventory (earlier ones refuse it as invalid), and it
/// has everything else used here (`in_tree` since 1.14, provider traits since 1.6). Pinning it keeps gpumon
/// working against every Placement since Rocky.
public struct PlacementClient: Sendable {
    public static let microversion = "placement 1.26"

    public struct Provider: Sendable, Equatable, Decodable {
        public let uuid: String
        public let name: String
        public let generation: Int
        public let parent_provider_uuid: String?
    }

    public struct Inventory: Sendable, Equatable, Codable {
        public var total: Int
        public var reserved: Int
        public var min_unit: Int
        public var max_unit: Int
        public var step_size: Int
        public var allocation_ratio: Double
    }

    public struct Inventories: Sendable, Equatable, Decodable {
        public let resource_provider_generation: Int
        public let inventories: [String: Inventory]
    }

    public let base: String
    public let transport: any HTTPTransport
    public let authenticator: Authenticator
    public let timeout: Duration
    /// Attempts per request when the network or the server fails (5xx); the sync itself retries later.
    public var attempts = 3

    public init(placement: Config.Placement, transport: any HTTPTransport, authenticator: Authenticator) {
        var base = placement.url ?? ""
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        self.transport = transport
        self.authenticator = authenticator
        self.timeout = placement.requestTimeout
    }

    // MARK: - Calls

    /// Providers named exactly `name` (zero or one: names are unique in Placement).
    public func providers(named name: String) async throws(PlacementError) -> [Provider] {
        try await decode(ProviderList.self, "GET", "/resource_providers?name=\(Self.escape(name))").resource_providers
    }

    /// Every provider in the tree rooted at `uuid`, the root included.
    public func tree(_ uuid: String) async throws(PlacementError) -> [Provider] {
        try await decode(ProviderList.self, "GET", "/resource_providers?in_tree=\(Self.escape(uuid))").resource_providers
    }

    public func inventories(_ uuid: String) async throws(PlacementError) -> Inventories {
        try await decode(Inventories.self, "GET", "/resource_providers/\(Self.escape(uuid))/inventories")
    }

    public func traits(_ uuid: String) async throws(PlacementError) -> [String] {
        try await decode(Traits.self, "GET", "/resource_providers/\(Self.escape(uuid))/traits").traits
    }

    public func usages(_ uuid: String) async throws(PlacementError) -> [String: Int] {
        try await decode(Usages.self, "GET", "/resource_providers/\(Self.escape(uuid))/usages").usages
    }

    /// The outcome of an inventory write.
    public enum WriteResult: Sendable, Equatable {
        case written(generation: Int)
        /// 409: the generation moved (another writer); read again and retry.
        case conflict
    }

    /// Replaces one inventory record, guarded by the provider generation read with it.
    public func putInventory(_ uuid: String, resourceClass: String, _ inventory: Inventory, generation: Int)
        async throws(PlacementError) -> WriteResult
    {
        struct Body: Encodable {
            let resource_provider_generation: Int
            let total: Int
            let reserved: Int
            let min_unit: Int
            let max_unit: Int
            let step_size: Int
            let allocation_ratio: Double
        }
        struct Answer: Decodable { let resource_provider_generation: Int }
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(Body(resource_provider_generation: generation,
                total: inventory.total, reserved: inventory.reserved, min_unit: inventory.min_unit,
                max_unit: inventory.max_unit, step_size: inventory.step_size,
                allocation_ratio: inventory.allocation_ratio)))
        } catch {
            throw .decode("cannot encode an inventory", url: base)
        }
        let path = "/resource_providers/\(Self.escape(uuid))/inventories/\(Self.escape(resourceClass))"
        let exchange = try await request("PUT", path, body: body, accept: [200, 409])
        if exchange.status == 409 { return .conflict }
        do {
            return .written(generation: try JSONDecoder().decode(Answer.self, from: Data(exchange.body))
                .resource_provider_generation)
        } catch {
            throw .decode("no resource_provider_generation in the answer", url: base + path)
        }
    }

    /// `GET /`: whether Placement answers at all (and which versions it has).
    public func versions() async throws(PlacementError) -> String {
        let exchange = try await request("GET", "/", body: nil, accept: [200])
        return String(decoding: exchange.body.prefix(300), as: UTF8.self)
    }

    // MARK: - Plumbing

    private struct ProviderList: Decodable { let resource_providers: [Provider] }
    private struct Traits: Decodable { let traits: [String] }
    private struct Usages: Decodable { let usages: [String: Int] }

    private func decode<T: Decodable>(_ type: T.Type, _ method: String, _ path: String)
        async throws(PlacementError) -> T
    {
        let exchange = try await request(method, path, body: nil, accept: [200])
        do {
            return try JSONDecoder().decode(T.self, from: Data(exchange.body))
        } catch {
            throw .decode("\(error)", url: base + path)
        }
    }

    /// One request with the token, the microversion and bounded retries: transient failures are retried after
    /// 0.5 s, 1 s…; a 401 renews the Keystone token once.
    func request(_ method: String, _ path: String, body: [UInt8]?, accept: Set<Int>)
        async throws(PlacementError) -> HTTPExchange
    {
        let url = base + path
        var reauthenticated = false
        var attempt = 0
        while true {
            attempt += 1
            do throws(PlacementError) {
                let token = try await authenticator.currentToken()
                var headers = [("X-Auth-Token", token), ("OpenStack-API-Version", Self.microversion),
                    ("Accept", "application/json")]
                if body != nil { headers.append(("Content-Type", "application/json")) }
                let exchange = try await transport.send(method: method, url: url, headers: headers, body: body,
                    timeout: timeout)
                if accept.contains(exchange.status) { return exchange }
                if exchange.status == 401 && !reauthenticated {
                    reauthenticated = true
                    await authenticator.invalidate()
                    attempt -= 1
                    continue
                }
                throw PlacementError.http(status: exchange.status, method: method, url: url,
                    detail: Self.detail(exchange.body))
            } catch {
                guard error.isTransient, attempt < attempts, !Task.isCancelled else { throw error }
                try? await Task.sleep(for: .milliseconds(500 << (attempt - 1)))
            }
        }
    }

    /// Placement's error bodies are `{"errors": [{"title", "detail", "code"}]}`; keep the first detail, short.
    static func detail(_ body: [UInt8]) -> String {
        struct Errors: Decodable {
            struct One: Decodable { let detail: String?; let title: String? }
            let errors: [One]
        }
        if let parsed = try? JSONDecoder().decode(Errors.self, from: Data(body)), let first = parsed.errors.first {
            let text = (first.detail ?? first.title ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
            return String(text.prefix(200))
        }
        return String(String(decoding: body.prefix(200), as: UTF8.self).split(whereSeparator: \.isNewline)
            .joined(separator: " "))
    }

    /// Percent-encodes everything outside RFC 3986's unreserved set.
    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
