import FoundationEssentials

/// Asks a running daemon over its control socket (`gpumon status`, `gpumon hook`).
public enum ControlClient {
    public enum Failure: Error, CustomStringConvertible {
        /// Nothing listens on the socket: the daemon is not running.
        case notRunning(String)
        case protocolError(String)

        public var description: String {
            switch self {
            case .notRunning(let why): return "daemon not running (\(why))"
            case .protocolError(let why): return "bad reply from the daemon: \(why)"
            }
        }
    }

    /// Sends one request and waits for the reply, all of it (connect, write, read) within `timeout`.
    public static func send(_ request: ControlRequest, path: String, timeout: Duration = .seconds(5)) throws(Failure)
        -> ControlResponse
    {
        let deadline = ContinuousClock.now + timeout
        let fd: Int32
        do {
            fd = try UnixSocket.connect(path: path, deadline: deadline)
        } catch {
            throw .notRunning(error.description)
        }
        defer { UnixSocket.closeSocket(fd) }
        guard var bytes = try? JSONEncoder().encode(request).map({ $0 }) else {
            throw .protocolError("cannot encode request")
        }
        bytes.append(UInt8(ascii: "\n"))
        guard UnixSocket.writeAll(fd, bytes, deadline: deadline) else { throw .protocolError("write failed") }
        guard case .message(let reply) = UnixSocket.readMessage(fd, limit: 64 << 20, deadline: deadline), !reply.isEmpty
        else {
            throw .protocolError("no reply within \(timeout)")
        }
        do {
            return try JSONDecoder().decode(ControlResponse.self, from: Data(reply))
        } catch {
            throw .protocolError("\(error)")
        }
    }
}
