public import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Thin wrappers over the AF_UNIX stream socket calls the control socket needs, each returning `Errno` on failure.
///
/// Every wait is bounded by a deadline (`poll` with the time left), never by a per-call timeout: a peer that trickles
/// one byte at a time cannot stretch a request beyond its deadline. Every write uses `MSG_NOSIGNAL`: a peer that
/// closed its end gives `EPIPE`, never a SIGPIPE that would kill the process.
public enum UnixSocket {
    /// A socket error with the call that failed.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let operation: String
        public let path: String
        public let errno: Errno
        public var description: String { "\(operation) \(path): \(errno.description)" }
    }

    static func check(_ result: Int32, _ operation: String, _ path: String) throws(Failure) {
        if result < 0 { throw Failure(operation: operation, path: path, errno: Errno(rawValue: errno)) }
    }

    static func address(_ path: String) throws(Failure) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { throw Failure(operation: "bind", path: path, errno: .fileNameTooLong) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// Creates, binds and listens; the socket file gets `mode`. The listener is non-blocking: the accept loop
    /// drains it until `EAGAIN`.
    static func listen(path: String, mode: mode_t) throws(Failure) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            | Int32(SOCK_NONBLOCK.rawValue), 0)
        try check(fd, "socket", path)
        var address = try address(path)
        let size = socklen_t(MemoryLayout<sockaddr_un>.size)
        // Bind with a restrictive umask so the socket never exists with looser permissions, then set the mode.
        let old = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        umask(old)
        if bound < 0 {
            let err = Errno(rawValue: errno)
            close(fd)
            throw Failure(operation: "bind", path: path, errno: err)
        }
        chmod(path, mode)
        if Glibc.listen(fd, 128) < 0 {
            let err = Errno(rawValue: errno)
            close(fd)
            throw Failure(operation: "listen", path: path, errno: err)
        }
        return fd
    }

    /// Connects to a listening socket, waiting at most until `deadline`.
    ///
    /// The send timeout is set before `connect`: for AF_UNIX the kernel's `unix_stream_connect` waits for room in a
    /// full backlog for `SO_SNDTIMEO` and then fails with `EAGAIN`, so a daemon that does not accept cannot hold
    /// a client (the hook has 800 ms) past its deadline.
    public static func connect(path: String, deadline: ContinuousClock.Instant = .now + .seconds(5))
        throws(Failure) -> Int32
    {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try check(fd, "socket", path)
        var address: sockaddr_un
        do {
            address = try self.address(path)
        } catch {
            close(fd)
            throw error
        }
        setSendTimeout(fd, max(deadline - ContinuousClock.now, .milliseconds(1)))
        let size = socklen_t(MemoryLayout<sockaddr_un>.size)
        var rc: Int32
        repeat {
            rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, size) }
            }
        } while rc < 0 && errno == EINTR && ContinuousClock.now < deadline
        if rc < 0 {
            let err = Errno(rawValue: errno)
            close(fd)
            throw Failure(operation: "connect", path: path, errno: err)
        }
        return fd
    }

    /// The connecting process's credentials (`SO_PEERCRED`).
    static func peerCredentials(_ fd: Int32) -> (pid: Int32, uid: UInt32)? {
        // `struct ucred` (pid, uid, gid) is only declared under _GNU_SOURCE; its layout is fixed by the ABI.
        var credentials = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0,
            length == socklen_t(MemoryLayout<PeerCredentials>.size)
        else { return nil }
        return (credentials.pid, credentials.uid)
    }

    private struct PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// Accepts one connection, made close-on-exec and non-blocking (no read on it can block a thread past its
    /// deadline). `accept4` would do both atomically but Glibc's Swift module hides it (`_GNU_SOURCE`).
    static func acceptConnection(_ listener: Int32) -> Result<Int32, Errno> {
        while true {
            let fd = accept(listener, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                return .success(fd)
            }
            let err = Errno(rawValue: errno)
            // A client that gave up while queued: nothing to serve, try the next one.
            if err == .interrupted || err == .connectionAbort { continue }
            return .failure(err)
        }
    }

    private static func setSendTimeout(_ fd: Int32, _ timeout: Duration) {
        var value = timeval(tv_sec: Int(timeout.components.seconds),
            tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Waits until `fd` is ready for `events` or the deadline passes; false on timeout, error or hang-up without
    /// the wanted event.
    static func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = deadline - ContinuousClock.now
            if left <= .zero { return false }
            let (seconds, attoseconds) = left.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&entry, 1, milliseconds)
            if rc < 0 {
                if errno == EINTR { continue }
                return false
            }
            if rc == 0 { continue }  // woke a little early: loop re-checks the deadline
            if entry.revents & events != 0 { return true }
            // POLLHUP/POLLERR without data: the read or write that follows reports it.
            return entry.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0
        }
    }

    /// How reading a request ended.
    enum ReadResult: Equatable {
        /// Bytes up to the first newline (or up to EOF when the peer closed without one).
        case message([UInt8])
        /// More than the limit before a newline.
        case tooLarge
        /// The deadline passed first.
        case timedOut
        /// The peer closed or reset before sending anything.
        case closed
    }

    /// Reads until a newline, EOF, `limit` bytes or `deadline`, whichever comes first.
    static func readMessage(_ fd: Int32, limit: Int, deadline: ContinuousClock.Instant) -> ReadResult {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count < 0 {
                let err = errno
                if err == EINTR { continue }
                if err == EAGAIN || err == EWOULDBLOCK {
                    guard wait(fd, for: Int16(POLLIN), until: deadline) else { return .timedOut }
                    continue
                }
                return data.isEmpty ? .closed : .message(data)
            }
            if count == 0 { return data.isEmpty ? .closed : .message(data) }
            data.append(contentsOf: buffer[0..<count])
            if let newline = data.firstIndex(of: UInt8(ascii: "\n")) {
                return newline > limit ? .tooLarge : .message(Array(data[..<newline]))
            }
            if data.count > limit { return .tooLarge }
        }
    }

    /// Writes every byte before `deadline`. False when the peer is gone (`EPIPE`, `ECONNRESET`: a closed client is
    /// normal, not an error) or the deadline passed.
    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], deadline: ContinuousClock.Instant) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes {
                send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if count < 0 {
                let err = errno
                if err == EINTR { continue }
                if err == EAGAIN || err == EWOULDBLOCK {
                    guard wait(fd, for: Int16(POLLOUT), until: deadline) else { return false }
                    continue
                }
                return false
            }
            offset += count
        }
        return true
    }

    static func closeSocket(_ fd: Int32) { close(fd) }
    static func unlinkPath(_ path: String) { unlink(path) }
    static func effectiveUID() -> UInt32 { geteuid() }
}
