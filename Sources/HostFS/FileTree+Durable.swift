public import SystemPackage

extension FileTree {
    /// ``writeFileAtomically(_:to:permissions:)``, then fsyncs the directory too, so the rename itself survives a
    /// power loss. For safety state (the reset budget, the reset journal) that later sysfs writes depend on: once
    /// this returns, a crash cannot bring back the old contents.
    public func writeFileDurably(_ contents: String, to relative: String, permissions: FilePermissions = [
        .ownerReadWrite,
    ]) throws(FSError) {
        try writeFileAtomically(contents, to: relative, permissions: permissions)
        try syncDirectory(containing: relative)
    }

    /// Fsyncs the directory that holds `relative` (after a rename or an unlink in it).
    public func syncDirectory(containing relative: String) throws(FSError) {
        let parts = path(relative).split(separator: "/", omittingEmptySubsequences: false)
        let directory = parts.count > 1 ? parts.dropLast().joined(separator: "/") : "."
        let full = directory.isEmpty ? "/" : directory
        do {
            let fd = try FileDescriptor.open(full, .readOnly, options: [.directory, .closeOnExec],
                retryOnInterrupt: true)
            try fd.closeAfter {
                if case .failure(let err) = systemFsync(fd) { throw err }
            }
        } catch let err as Errno {
            throw FSError(operation: "fsync", path: full, errno: err)
        } catch {
            throw FSError(operation: "fsync", path: full, errno: .ioError)
        }
    }

    /// Renames a file within the tree (keeping a corrupt state file aside).
    public func rename(_ relative: String, to newRelative: String) throws(FSError) {
        if case .failure(let err) = systemRename(path(relative), path(newRelative)) {
            throw FSError(operation: "rename", path: path(relative), errno: err)
        }
    }

    /// Removes a file and fsyncs its directory, so the removal is durable; an absent file is fine.
    public func removeFileDurably(_ relative: String) throws(FSError) {
        try removeFile(relative)
        try syncDirectory(containing: relative)
    }
}
