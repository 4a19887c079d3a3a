import HostFS

/// Creates the daemon's runtime and state directories.
enum HostDirectories {
    static func create(_ path: String, mode: UInt32) throws {
        try FileTree(root: "/").createDirectory(path, mode: mode)
    }
}
