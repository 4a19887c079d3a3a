import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// One HTTP exchange, the way the Placement and Keystone clients need it.
public struct HTTPExchange: Sendable {
    public var status: Int
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]
}

/// Sends requests. The real one is ``AsyncHTTPTransport``; tests can wrap it to interleave another writer.
public protocol HTTPTransport: Sendable {
    func send(method: String, url: String, headers: [(String, String)], body: [UInt8]?, timeout: Duration)
        async throws(PlacementError) -> HTTPExchange
}

/// async-http-client (SwiftNIO, BoringSSL linked in): no run-time library beyond glibc, so the static release
/// binary keeps working where libcurl is absent (docs/architecture.md).
public final class AsyncHTTPTransport: HTTPTransport {
    private let client: HTTPClient
    /// Bodies larger than this are refused: a misbehaving endpoint cannot make the daemon grow.
    private let maxBody = 4 << 20

    public init() {
        var configuration = HTTPClient.Configuration()
        // A redirect could carry the token to another host.
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    public func send(method: String, url: String, headers: [(String, String)], body: [UInt8]?, timeout: Duration)
        async throws(PlacementError) -> HTTPExchange
    {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let (seconds, attoseconds) = timeout.components
        let amount = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        do {
            let response = try await client.execute(request, timeout: amount)
            var collected = try await response.body.collect(upTo: maxBody)
            let bytes = collected.readBytes(length: collected.readableBytes) ?? []
            var names: [String: String] = [:]
            for header in response.headers { names[header.name.lowercased()] = header.value }
            return HTTPExchange(status: Int(response.status.code), headers: names, body: bytes)
        } catch {
            throw .transport(Self.describe(error), url: url)
        }
    }

    /// A short reason; AsyncHTTPClient's errors print as their case names.
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout { return "timed out" }
            return "\(error)"
        }
        return "\(error)"
    }
}
