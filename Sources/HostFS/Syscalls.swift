#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

// The errno funnel: every libc call that is not covered by swift-system goes through here, so errno is read
// immediately after the call and EINTR is retried in one place.

func retryingInterrupts<T: BinaryInteger>(_ body: () -> T) -> Result<T, Errno> {
    while true {
        let result = body()
        if result >= 0 { return .success(result) }
        let err = Errno(rawValue: errno)
        if err == .interrupted { continue }
        return .failure(err)
    }
}

func systemReadLink(_ path: String) -> Result<String, Errno> {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = buffer.count
    let result = retryingInterrupts { readlink(path, &buffer, count - 1) }
    return result.map { length in
        let bytes = buffer[0..<Int(length)].map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

func systemListDirectory(_ path: String) -> Result<[String], Errno> {
    guard let dir = opendir(path) else { return .failure(Errno(rawValue: errno)) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return .success(names.sorted())
}

func systemRealPath(_ path: String) -> Result<String, Errno> {
    guard let resolved = realpath(path, nil) else { return .failure(Errno(rawValue: errno)) }
    defer { free(resolved) }
    return .success(String(cString: resolved))
}

func systemSymlink(target: String, at path: String) -> Result<Void, Errno> {
    retryingInterrupts { symlink(target, path) }.map { _ in () }
}

func systemMakeDirectory(_ path: String, mode: UInt32) -> Result<Void, Errno> {
    retryingInterrupts { mkdir(path, mode_t(mode)) }.map { _ in () }
}

func systemRename(_ from: String, _ to: String) -> Result<Void, Errno> {
    retryingInterrupts { rename(from, to) }.map { _ in () }
}

func systemUnlink(_ path: String) -> Result<Void, Errno> {
    retryingInterrupts { unlink(path) }.map { _ in () }
}

func systemIsDirectory(_ path: String) -> Bool {
    var info = stat()
    guard stat(path, &info) == 0 else { return false }
    return (info.st_mode & S_IFMT) == S_IFDIR
}

func systemExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

func systemFsync(_ fd: FileDescriptor) -> Result<Void, Errno> {
    retryingInterrupts { fsync(fd.rawValue) }.map { _ in () }
}

func systemFchmod(_ fd: FileDescriptor, mode: UInt32) -> Result<Void, Errno> {
    retryingInterrupts { fchmod(fd.rawValue, mode_t(mode)) }.map { _ in () }
}

/// fsync on a directory, which makes the renames and creations in it durable.
func systemFsyncDirectory(_ path: String) -> Result<Void, Errno> {
    let fd = retryingInterrupts { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    switch fd {
    case .failure(let err): return .failure(err)
    case .success(let raw):
        defer { close(raw) }
        return retryingInterrupts { fsync(raw) }.map { _ in () }
    }
}

func systemProcessID() -> Int32 { getpid() }
