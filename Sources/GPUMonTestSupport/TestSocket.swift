#if canImport(Glibc)
public import Glibc
#endif

/// Unix sockets for tests that play the other side of gpumon's: a fake daemon for the hook, a fake systemd for
/// sd_notify, a client of the control socket.
public enum TestSocket {
    /// A socket of `type` (`SOCK_STREAM`, `SOCK_DGRAM`) bound to `path`; -1 when socket or bind fails.
    public static func bound(_ path: String, type: __socket_type) -> Int32 {
        let fd = socket(AF_UNIX, Int32(type.rawValue), 0)
        guard fd >= 0 else { return -1 }
        guard withAddress(path, { bind(fd, $0, $1) }) == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    /// A stream socket connected to `path`; -1 when socket or connect fails.
    public static func connected(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        guard withAddress(path, { connect(fd, $0, $1) }) == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return -1 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
