public import HostFS
import SystemPackage

/// Applies a ``SetupPlan``: backs up and atomically replaces each file, reads it back, then runs the
/// regeneration commands. Nothing here decides *what* to change; that is ``SetupPlanner``'s job.
public struct SetupExecutor: Sendable {
    public let files: FileTree
    /// Runs the commands; `nil` prints them instead (under `--root`, where the host's tools must not run).
    public let runner: (any CommandRunner)?
    /// The suffix stamp of backups, `YYYYmmddHHMMSS`; injected so tests are deterministic.
    public let timestamp: String

    public init(files: FileTree, runner: (any CommandRunner)?, timestamp: String) {
        self.files = files
        self.runner = runner
        self.timestamp = timestamp
    }

    /// The backup suffix: `FILE.gpumon-bak-YYYYmmddHHMMSS`. No distribution reads such a name: modprobe,
    /// modules-load.d and dracut only read `*.conf`, and GRUB only sources `/etc/default/grub` itself.
    public static let backupInfix = ".gpumon-bak-"

    /// Applies every change, then every command; stops at the first failure and says where in the result.
    public func apply(_ plan: SetupPlan) -> SetupResult {
        var result = SetupResult()
        for change in plan.changes {
            do {
                let backup = try write(change)
                result.written.append(.init(path: change.path, backup: backup))
            } catch {
                result.failure = error
                return result
            }
        }
        for command in plan.commands {
            guard let runner else {
                result.commands.append(.init(command: command, output: nil))
                continue
            }
            do {
                let output = try runner.run(command.argv)
                result.commands.append(.init(command: command, output: output))
                if output.status != 0 {
                    let text = output.stderr.isEmpty ? output.stdout : output.stderr
                    result.failure = .commandFailed(command: command.description, status: output.status, output: text)
                    return result
                }
            } catch {
                result.failure = error
                return result
            }
        }
        return result
    }

    /// Writes one change; returns the backup's path relative to the root.
    private func write(_ change: FileChange) throws(HostError) -> String? {
        let current: [UInt8]?
        let metadata: FileMetadata?
        do {
            current = try files.readBytes(change.path, maxBytes: 4 << 20)
            metadata = try files.metadata(change.path)
        } catch {
            throw .io(error)
        }
        guard current.map({ String(decoding: $0, as: UTF8.self) }) == change.old else {
            throw .changedSincePlanning(path: files.path(change.path))
        }
        let permissions = metadata?.permissions ?? [.ownerReadWrite, .groupRead, .otherRead]
        var backup: String?
        do {
            if let current {
                let name = backupName(for: change.path)
                try files.writeFileAtomically(bytes: current, to: name, permissions: permissions)
                guard try files.readBytes(name, maxBytes: 4 << 20) == current else {
                    throw HostError.verifyFailed(path: files.path(name))
                }
                backup = name
            } else if let parent = change.path.split(separator: "/").dropLast().joined(separator: "/") as String?,
                !parent.isEmpty
            {
                try files.createDirectory(parent)
            }
            try files.writeFileAtomically(change.new, to: change.path, permissions: permissions)
            // Read back: a full disk or an overlay that drops writes must not pass as success.
            guard try files.readBytes(change.path, maxBytes: 4 << 20) == Array(change.new.utf8) else {
                throw HostError.verifyFailed(path: files.path(change.path))
            }
        } catch let error as FSError {
            throw .io(error)
        } catch let error as HostError {
            throw error
        } catch {
            throw .verifyFailed(path: files.path(change.path))
        }
        return backup
    }

    /// `FILE.gpumon-bak-STAMP`, or `…-STAMP-2`, `-3` when a backup of the same second exists.
    private func backupName(for path: String) -> String {
        let base = path + Self.backupInfix + timestamp
        var name = base
        var counter = 2
        while files.exists(name) {
            name = "\(base)-\(counter)"
            counter += 1
        }
        return name
    }
}
