import Dispatch
import FoundationEssentials
public import Logging
public import ServiceLifecycle
import SystemPackage

/// The control socket: a Unix stream socket, mode 0600, root only (peer credentials), one JSON request and one
/// JSON reply per connection. Malformed or oversized requests get an error reply; nothing a client sends can
/// stop the daemon.
public struct ControlServer: Service {
    public let path: String
    /// The listening socket from ``prepare(path:)``, made before the daemon does anything else.
    let listener: Int32
    public let enforcer: Enforcer
    public let lifecycle: VMLifecycle
    public let logger: Logger
    /// Requests larger than this are refused.
    public static let maxRequestBytes = 64 << 10

    public init(path: String, listener: Int32, enforcer: Enforcer, lifecycle: VMLifecycle, logger: Logger) {
        self.path = path
        self.listener = listener
        self.enforcer = enforcer
        self.lifecycle = lifecycle
        self.logger = logger
    }

    /// Creates the directory, refuses to start when another daemon answers on the socket, removes a stale one.
    public static func prepare(path: String) throws -> Int32 {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !directory.isEmpty { try HostDirectories.create(directory, mode: 0o755) }
        if let fd = try? UnixSocket.connect(path: path) {
            UnixSocket.closeSocket(fd)
            throw UnixSocket.Failure(operation: "bind (another gpumon daemon answers)", path: path, errno: .addressInUse)
        }
        UnixSocket.unlinkPath(path)
        return try UnixSocket.listen(path: path, mode: 0o600)
    }

    public func run() async throws {
        let listener = self.listener
        let queue = DispatchQueue(label: "gpumon.control")
        let source = DispatchSource.makeReadSource(fileDescriptor: listener, queue: queue)
        let handler = ConnectionHandler(enforcer: enforcer, lifecycle: lifecycle, logger: logger)
        source.setEventHandler {
            guard let client = UnixSocket.acceptConnection(listener) else { return }
            handler.serve(client)
        }
        source.setCancelHandler { UnixSocket.closeSocket(listener) }
        source.resume()
        logger.debug("control socket listening", metadata: ["path": "\(path)"])
        try? await gracefulShutdown()
        // Unlink now, not in the cancel handler: the process may exit before the queue runs it.
        UnixSocket.unlinkPath(path)
        source.cancel()
    }
}

/// Serves one connection at a time off the accept queue: reads, checks, answers, closes.
private struct ConnectionHandler: Sendable {
    let enforcer: Enforcer
    let lifecycle: VMLifecycle
    let logger: Logger

    func serve(_ fd: Int32) {
        UnixSocket.setTimeouts(fd, .seconds(2))
        guard let peer = UnixSocket.peerCredentials(fd), peer.uid == 0 || peer.uid == UnixSocket.effectiveUID() else {
            reply(fd, .failure("permission denied: the control socket is for root only"))
            return
        }
        guard let bytes = UnixSocket.readMessage(fd, limit: ControlServer.maxRequestBytes) else {
            reply(fd, .failure("request too large: at most \(ControlServer.maxRequestBytes) bytes"))
            return
        }
        let request: ControlRequest
        do {
            request = try JSONDecoder().decode(ControlRequest.self, from: Data(bytes))
        } catch {
            reply(fd, .failure("malformed request: expected one JSON object like {\"command\":\"status\"}"))
            return
        }
        let enforcer = self.enforcer
        let lifecycle = self.lifecycle
        Task {
            let response: ControlResponse
            switch request.command {
            case "ping": response = ControlResponse(ok: true)
            case "status": response = ControlResponse(ok: true, status: await enforcer.status())
            case "released", "started", "gate", "reset", "clear":
                response = await ControlCommands.handle(request, lifecycle: lifecycle, enforcer: enforcer)
            default:
                response = .failure("unknown command \"\(request.command.prefix(64))\": expected status, ping, "
                    + "released, started, gate, reset or clear")
            }
            reply(fd, response)
        }
    }

    func reply(_ fd: Int32, _ response: ControlResponse) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var bytes = (try? encoder.encode(response)).map { Array($0) } ?? Array(#"{"ok":false,"error":"encoding failed"}"#.utf8)
        bytes.append(UInt8(ascii: "\n"))
        UnixSocket.writeAll(fd, bytes)
        UnixSocket.closeSocket(fd)
    }
}
