import FoundationEssentials
import HostFS
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where reading stopped in each followed log, kept in `state_dir/logpos.json` so a restarted daemon resumes
/// there and still reports a stop written while it was down.
///
/// ```json
/// {"version":1,"saved_at":1795565400.5,"files":{"/var/log/libvirt/qemu/instance-0000001a.log":
///   {"device":2049,"inode":1311,"offset":4524}}}
/// ```
/// `offset` is the byte after the last complete line read (or the start of an unfinished `starting up` block),
/// `addresses` the functions of the latest start. The file is replaced atomically (temporary file, fsync,
/// rename), so a crash leaves the old or the new contents, never a torn file.
struct LogPositionStore {
    struct Position: Codable, Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        var offset: Int64
        /// The functions of the domain's latest `starting up` block, so a restart resumes at `offset` without
        /// re-reading the file's history to learn them. Absent in files written by older versions.
        var addresses: [String]?
        /// The vfio/PCI error lines since that start (at most ``DomainLogTracker/maxErrorLines``).
        var errorLines: [String]?

        enum CodingKeys: String, CodingKey {
            case device, inode, offset, addresses
            case errorLines = "error_lines"
        }
    }

    private struct Contents: Codable {
        var version = 1
        var savedAt: Double
        var files: [String: Position]

        enum CodingKeys: String, CodingKey {
            case version, files
            case savedAt = "saved_at"
        }
    }

    static let fileName = "logpos.json"

    let tree: FileTree
    /// The positions loaded at startup.
    let loaded: [String: Position]
    /// When the previous daemon last saved (seconds since the epoch); `nil` on a first start.
    let previousSave: Double?
    /// Why the saved positions could not be used, for one warning; `nil` when fine or absent.
    let loadProblem: String?
    private var lastSaved: [String: Position]?
    /// How many times the file was written (each is an fsync and a rename).
    private(set) var writes = 0

    init(stateDirectory: String) {
        tree = FileTree(root: stateDirectory)
        var problem: String?
        var contents: Contents?
        do {
            if let bytes = try tree.readBytes(LogPositionStore.fileName, maxBytes: 16 << 20) {
                contents = try? JSONDecoder().decode(Contents.self, from: Data(bytes))
                if contents == nil { problem = "\(tree.path(LogPositionStore.fileName)) is not valid; starting afresh" }
            }
        } catch {
            problem = "\(error); starting afresh"
        }
        loaded = contents?.files ?? [:]
        previousSave = contents?.savedAt
        loadProblem = problem
    }

    /// Writes `positions` when they changed since the last save (or always with `force`).
    mutating func save(_ positions: [String: Position], force: Bool = false) throws(FSError) {
        guard force || positions != lastSaved else { return }
        // FileTree creates paths below its root; the state directory itself is created from `/`.
        try FileTree(root: "/").createDirectory(tree.root, mode: 0o755)
        let contents = Contents(savedAt: LogPositionStore.now(), files: positions)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(contents) else { return }
        try tree.writeFileAtomically(bytes: Array(data) + [UInt8(ascii: "\n")], to: LogPositionStore.fileName,
            permissions: [.ownerReadWrite])
        lastSaved = positions
        writes += 1
    }

    /// The wall clock, in seconds since the epoch (compared with file modification times).
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
