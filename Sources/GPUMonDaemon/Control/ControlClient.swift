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
    ///
    /// The default is generous because it bounds the whole exchange, including the daemon's fresh sysfs read for
    /// `status` (the old per-read 5 s was too short for that whole under the lab's emulated CPU on a loaded host:
    /// `gpumon status` fell back to reading sysfs itself). The hook passes its own 800 ms budget.
    public static func send(_ request: ControlRequest, path: String, timeout: Duration = .seconds(15)) throws(Failure)
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
