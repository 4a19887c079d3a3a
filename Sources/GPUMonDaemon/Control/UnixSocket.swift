public import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Thin wrappers over the AF_UNIX stream socket calls the control socket needs, each returning `Errno` on failure.
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

    /// Creates, binds and listens; the socket file gets `mode`.
    static func listen(path: String, mode: mode_t) throws(Failure) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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
        if Glibc.listen(fd, 64) < 0 {
            let err = Errno(rawValue: errno)
            close(fd)
            throw Failure(operation: "listen", path: path, errno: err)
        }
        return fd
    }

    /// Connects to a listening socket.
    public static func connect(path: String) throws(Failure) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try check(fd, "socket", path)
        var address = try address(path)
        let size = socklen_t(MemoryLayout<sockaddr_un>.size)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, size) }
        }
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

    /// Accepts one connection; the new descriptor is close-on-exec.
    static func acceptConnection(_ listener: Int32) -> Int32? {
        let fd = accept(listener, nil, nil)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// Bounds how long a read or write on `fd` may block.
    static func setTimeouts(_ fd: Int32, _ timeout: Duration) {
        var value = timeval(tv_sec: Int(timeout.components.seconds),
            tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Reads until a newline, EOF, `limit` bytes (then `nil`: oversized) or the timeout.
    static func readMessage(_ fd: Int32, limit: Int) -> [UInt8]? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return data }
            data.append(contentsOf: buffer[0..<count])
            if data.count > limit { return nil }
            if let newline = data.firstIndex(of: UInt8(ascii: "\n")) { return Array(data[..<newline]) }
        }
    }

    /// Writes every byte (or gives up on error/timeout).
    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }

    static func closeSocket(_ fd: Int32) { close(fd) }
    static func unlinkPath(_ path: String) { unlink(path) }
    static func effectiveUID() -> UInt32 { geteuid() }
}
