#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One `struct inotify_event` record.
struct InotifyEvent: Sendable, Equatable {
    /// The watch descriptor; -1 for a queue overflow.
    var watch: Int32
    var mask: UInt32
    /// Pairs `IN_MOVED_FROM` with `IN_MOVED_TO`.
    var cookie: UInt32
    /// The entry's name inside a watched directory; empty for events on the directory itself.
    var name: String

    func has(_ flag: Int32) -> Bool { mask & UInt32(bitPattern: flag) != 0 }
    func has(_ flag: UInt32) -> Bool { mask & flag != 0 }

    var isDirectory: Bool { has(InotifyMask.isDirectory) }
    var isOverflow: Bool { has(InotifyMask.queueOverflow) }
}

/// The `IN_*` bits gpumon uses, as `UInt32` (Glibc imports some as `Int32`, some as `UInt32`).
enum InotifyMask {
    static let modify = UInt32(IN_MODIFY)
    static let attributes = UInt32(IN_ATTRIB)
    static let movedFrom = UInt32(IN_MOVED_FROM)
    static let movedTo = UInt32(IN_MOVED_TO)
    static let create = UInt32(IN_CREATE)
    static let delete = UInt32(IN_DELETE)
    static let deleteSelf = UInt32(IN_DELETE_SELF)
    static let moveSelf = UInt32(IN_MOVE_SELF)
    static let queueOverflow = UInt32(IN_Q_OVERFLOW)
    static let ignored = UInt32(IN_IGNORED)
    static let onlyDirectory = UInt32(IN_ONLYDIR)
    static let isDirectory = UInt32(IN_ISDIR)
    static let maskAdd = UInt32(IN_MASK_ADD)
    static let open = UInt32(IN_OPEN)
    static let closeWrite = UInt32(IN_CLOSE_WRITE)
    static let closeNoWrite = UInt32(IN_CLOSE_NOWRITE)

    /// A directory whose `*.log` files are followed: every way a file can appear, grow, shrink or go.
    static let logDirectory = modify | attributes | movedFrom | movedTo | create | delete | deleteSelf | moveSelf
        | onlyDirectory
    /// An ancestor of a directory that does not exist yet: only entries appearing, and the ancestor going away.
    /// No `IN_MODIFY`, so busy siblings such as `/var/log/syslog` do not wake gpumon.
    static let ancestor = movedTo | create | deleteSelf | moveSelf | onlyDirectory
}
