#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads a file descriptor (the hook's stdin) with a size bound and a deadline, so a writer that sends too much
/// or never closes cannot hold the caller.
enum BoundedInput {
    /// What was read.
    struct Result {
        /// At most the requested limit; anything beyond was read and discarded.
        var bytes: [UInt8]
        /// The writer closed its end before the deadline: `bytes` is the whole input (unless over the limit).
        var reachedEnd: Bool
        /// More than the limit arrived.
        var truncated: Bool
    }

    /// Reads until end of input or `deadline`, keeping the first `limit` bytes and discarding the rest: the writer
    /// (libvirt) must see its whole input consumed, or it would get `EPIPE`.
    static func read(_ fd: Int32 = STDIN_FILENO, limit: Int, deadline: ContinuousClock.Instant) -> Result {
        var result = Result(bytes: [], reachedEnd: false, truncated: false)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return result }
            let milliseconds = Int32(clamping: remaining.components.seconds * 1000
                + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                return result
            }
            if ready == 0 { return result }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return result
            }
            if count == 0 {
                result.reachedEnd = true
                return result
            }
            let room = max(0, limit - result.bytes.count)
            if count > room { result.truncated = true }
            result.bytes.append(contentsOf: buffer[0..<min(count, room)])
        }
    }
}
