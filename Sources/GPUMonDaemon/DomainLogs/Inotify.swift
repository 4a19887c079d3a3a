import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A thin wrapper over an inotify instance (inotify(7)): the descriptor, watches, and decoding the records.
///
/// The descriptor is non-blocking and close-on-exec; ``readEvents()`` drains what is queued and returns. The
/// calls are plain system calls on one descriptor, safe from any thread; closing belongs to the owner of the
/// dispatch source that reads it (``InotifyEventStream``).
final class Inotify: @unchecked Sendable {
    let fileDescriptor: Int32

    /// The corresponding C function is `inotify_init1(IN_NONBLOCK | IN_CLOEXEC)`.
    init() throws(InotifyError) {
        let fd = inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC))
        guard fd >= 0 else { throw InotifyError(operation: "inotify_init1", path: "", errno: Errno(rawValue: errno)) }
        fileDescriptor = fd
    }

    /// Watches `path` (following symlinks) for `mask`; returns the watch descriptor. Watching an inode already
    /// watched returns its existing descriptor and replaces its mask.
    ///
    /// The corresponding C function is `inotify_add_watch`.
    func addWatch(_ path: String, mask: UInt32) throws(InotifyError) -> Int32 {
        let wd = inotify_add_watch(fileDescriptor, path, mask)
        guard wd >= 0 else { throw InotifyError(operation: "inotify_add_watch", path: path, errno: Errno(rawValue: errno)) }
        return wd
    }

    /// The corresponding C function is `inotify_rm_watch`; a watch the kernel already dropped is fine.
    func removeWatch(_ watch: Int32) {
        _ = inotify_rm_watch(fileDescriptor, watch)
    }

    /// Every event queued now; empty when none (`EAGAIN`).
    func readEvents() throws(InotifyError) -> [InotifyEvent] {
        var events: [InotifyEvent] = []
        // Large enough for many records; a record is 16 bytes plus a name of at most NAME_MAX + 1.
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                let err = Errno(rawValue: errno)
                if err == .interrupted { continue }
                if err == .wouldBlock || err == .resourceTemporarilyUnavailable { return events }
                throw InotifyError(operation: "read", path: "inotify", errno: err)
            }
            if count == 0 { return events }
            events.append(contentsOf: Inotify.decode(buffer[0..<count]))
        }
    }

    /// Decodes `struct inotify_event { int wd; uint32_t mask, cookie, len; char name[len]; }` records.
    static func decode(_ bytes: ArraySlice<UInt8>) -> [InotifyEvent] {
        var events: [InotifyEvent] = []
        let header = 16
        bytes.withUnsafeBytes { raw in
            var position = 0
            while position + header <= raw.count {
                let wd = raw.loadUnaligned(fromByteOffset: position, as: Int32.self)
                let mask = raw.loadUnaligned(fromByteOffset: position + 4, as: UInt32.self)
                let cookie = raw.loadUnaligned(fromByteOffset: position + 8, as: UInt32.self)
                let length = Int(raw.loadUnaligned(fromByteOffset: position + 12, as: UInt32.self))
                guard position + header + length <= raw.count else { break }
                let nameBytes = raw[(position + header)..<(position + header + length)].prefix(while: { $0 != 0 })
                events.append(InotifyEvent(
                    watch: wd, mask: mask, cookie: cookie, name: String(decoding: nameBytes, as: UTF8.self)))
                position += header + length
            }
        }
        return events
    }

    func close() { _ = Glibc.close(fileDescriptor) }
}
