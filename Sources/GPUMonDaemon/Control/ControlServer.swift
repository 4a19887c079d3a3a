import Dispatch
import FoundationEssentials
public import Logging
public import ServiceLifecycle
import SystemPackage

/// The control socket: a Unix stream socket, mode 0600, root only (peer credentials), one JSON request and one
/// JSON reply per connection. Malformed or oversized requests get an error reply; nothing a client sends can
/// stop the daemon or delay another client.
///
/// Connections are served concurrently (one child task each, at most ``maxConnections`` at a time; more wait in
/// the kernel's backlog). A request must arrive whole within ``requestTimeout`` of the accept, however the client
/// trickles it; the reply gets ``replyTimeout`` to be read. A client that closes or resets early costs nothing:
/// writes use `MSG_NOSIGNAL` and `EPIPE` just ends that connection.
public struct ControlServer: Service {
    public let path: String
    /// The listening socket from ``prepare(path:)``, made before the daemon does anything else.
    let listener: Int32
    public let enforcer: Enforcer
    public let lifecycle: VMLifecycle
    public let logger: Logger
    /// Requests larger than this are refused.
    public static let maxRequestBytes = 64 << 10
    /// Connections served at once; the hook needs one, an operator a few.
    public static let maxConnections = 32
    /// From accept to the request's newline. The hook's own deadline is 800 ms; a slower client is hostile or hung.
    public static let requestTimeout: Duration = .seconds(2)
    /// From a ready reply to its last byte in the client's socket.
    public static let replyTimeout: Duration = .seconds(2)
    /// How long accepting pauses after a failure such as `EMFILE`, instead of retrying at once (which spins).
    static let acceptBackoff: Duration = .milliseconds(250)

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
        if let fd = try? UnixSocket.connect(path: path, deadline: .now + .seconds(1)) {
            UnixSocket.closeSocket(fd)
            throw UnixSocket.Failure(operation: "bind (another gpumon daemon answers)", path: path, errno: .addressInUse)
        }
        UnixSocket.unlinkPath(path)
        return try UnixSocket.listen(path: path, mode: 0o600)
    }

    public func run() async throws {
        // The acceptor never has more than maxConnections descriptors in flight, so this buffer never drops one;
        // if it did, the descriptor is closed, not leaked.
        let (connections, continuation) = AsyncStream.makeStream(of: Int32.self,
            bufferingPolicy: .bufferingOldest(Self.maxConnections))
        let acceptor = Acceptor(listener: listener, limit: Self.maxConnections, logger: logger) { fd in
            if case .dropped = continuation.yield(fd) {
                UnixSocket.closeSocket(fd)
                return false
            }
            return true
        }
        let handler = ConnectionHandler(enforcer: enforcer, lifecycle: lifecycle, logger: logger)
        acceptor.start()
        logger.debug("control socket listening", metadata: ["path": "\(path)"])
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await fd in connections {
                    group.addTask {
                        await handler.serve(fd)
                        acceptor.finished()
                    }
                }
            }
        } onGracefulShutdown: {
            acceptor.stop()
            continuation.finish()
        }
        // Unlink now, not in the cancel handler: the process may exit before the queue runs it.
        UnixSocket.unlinkPath(path)
    }
}

/// Accepts on a serial queue: drains the listener until `EAGAIN`, stops accepting while `limit` connections are
/// being served (they wait in the backlog), and after a failed `accept` (`EMFILE`, `ENFILE`, `ENOBUFS`) pauses for
/// ``ControlServer/acceptBackoff``: the listener stays readable while the error lasts, so retrying at once spins a
/// core.
private final class Acceptor: @unchecked Sendable {
    private let listener: Int32
    private let limit: Int
    private let logger: Logger
    private let deliver: @Sendable (Int32) -> Bool
    private let queue = DispatchQueue(label: "gpumon.control.accept")
    private let source: any DispatchSourceRead
    // Only touched on `queue`.
    private var active = 0
    private var backingOff = false
    private var suspended = true
    private var stopped = false
    private var lastFailureLog: ContinuousClock.Instant?

    init(listener: Int32, limit: Int, logger: Logger, deliver: @escaping @Sendable (Int32) -> Bool) {
        self.listener = listener
        self.limit = limit
        self.logger = logger
        self.deliver = deliver
        source = DispatchSource.makeReadSource(fileDescriptor: listener, queue: queue)
    }

    func start() {
        source.setEventHandler { [self] in acceptReady() }
        source.setCancelHandler { [listener] in UnixSocket.closeSocket(listener) }
        queue.async { [self] in update() }
    }

    func stop() {
        queue.async { [self] in
            guard !stopped else { return }
            stopped = true
            // A suspended source cannot be cancelled: its cancel handler would never run.
            if suspended { source.resume() }
            suspended = false
            source.cancel()
        }
    }

    func finished() {
        queue.async { [self] in
            active -= 1
            update()
        }
    }

    private func acceptReady() {
        while active < limit && !backingOff && !stopped {
            switch UnixSocket.acceptConnection(listener) {
            case .success(let fd):
                if deliver(fd) { active += 1 }
            case .failure(let err) where err == .wouldBlock || err == .resourceTemporarilyUnavailable:
                return
            case .failure(let err):
                let now = ContinuousClock.now
                if lastFailureLog.map({ now - $0 > .seconds(60) }) ?? true {
                    lastFailureLog = now
                    logger.error("control socket: accept failed, pausing accepts for a moment: \(err)")
                }
                backingOff = true
                update()
                let delay = ControlServer.acceptBackoff.components
                queue.asyncAfter(deadline: .now() + .milliseconds(Int(delay.seconds) * 1000
                    + Int(delay.attoseconds / 1_000_000_000_000_000))) { [self] in
                    backingOff = false
                    update()
                }
                return
            }
        }
        update()
    }

    /// Suspends the source while nothing may be accepted, resumes it when something may.
    private func update() {
        guard !stopped else { return }
        let shouldRun = active < limit && !backingOff
        if shouldRun && suspended {
            suspended = false
            source.resume()
        } else if !shouldRun && !suspended {
            suspended = true
            source.suspend()
        }
    }
}

/// Serves one connection: reads with the request deadline, checks, answers, closes. Blocking waits run on a
/// dispatch queue, never on the Swift concurrency pool (two threads on a two-core host).
private struct ConnectionHandler: Sendable {
    let enforcer: Enforcer
    let lifecycle: VMLifecycle
    let logger: Logger
    private static let io = DispatchQueue(label: "gpumon.control.io", attributes: .concurrent)

    private static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            io.async { continuation.resume(returning: body()) }
        }
    }

    func serve(_ fd: Int32) async {
        let deadline = ContinuousClock.now + ControlServer.requestTimeout
        guard let peer = UnixSocket.peerCredentials(fd), peer.uid == 0 || peer.uid == UnixSocket.effectiveUID() else {
            await reply(fd, .failure("permission denied: the control socket is for root only"))
            return
        }
        let read = await Self.offPool {
            UnixSocket.readMessage(fd, limit: ControlServer.maxRequestBytes, deadline: deadline)
        }
        let bytes: [UInt8]
        switch read {
        case .message(let message): bytes = message
        case .tooLarge:
            await reply(fd, .failure("request too large: at most \(ControlServer.maxRequestBytes) bytes"))
            return
        case .timedOut:
            await reply(fd, .failure("request incomplete after \(ControlServer.requestTimeout)"))
            return
        case .closed:
            UnixSocket.closeSocket(fd)
            return
        }
        let request: ControlRequest
        do {
            request = try JSONDecoder().decode(ControlRequest.self, from: Data(bytes))
        } catch {
            await reply(fd, .failure("malformed request: expected one JSON object like {\"command\":\"status\"}"))
            return
        }
        await reply(fd, await Self.respond(to: request, enforcer: enforcer, lifecycle: lifecycle))
    }

    static func respond(to request: ControlRequest, enforcer: Enforcer, lifecycle: VMLifecycle) async
        -> ControlResponse
    {
        switch request.command {
        case "ping": return ControlResponse(ok: true)
        case "status": return ControlResponse(ok: true, status: await enforcer.status())
        case "released", "started", "gate", "reset", "clear":
            return await ControlCommands.handle(request, lifecycle: lifecycle, enforcer: enforcer)
        default:
            return .failure("unknown command \"\(request.command.prefix(64))\": expected status, ping, "
                + "released, started, gate, reset or clear")
        }
    }

    func reply(_ fd: Int32, _ response: ControlResponse) async {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var bytes = (try? encoder.encode(response)).map { Array($0) } ?? Array(#"{"ok":false,"error":"encoding failed"}"#.utf8)
        bytes.append(UInt8(ascii: "\n"))
        let deadline = ContinuousClock.now + ControlServer.replyTimeout
        let sent = await Self.offPool { [bytes] in UnixSocket.writeAll(fd, bytes, deadline: deadline) }
        if !sent { logger.debug("control client went away before reading its reply") }
        UnixSocket.closeSocket(fd)
    }
}
