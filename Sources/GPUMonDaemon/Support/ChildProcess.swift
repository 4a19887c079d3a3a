import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program without a shell (`posix_spawn`), with an environment, a timeout and no inherited descriptors
/// beyond stdin from `/dev/null` and stdout/stderr shared with the daemon (captured by the journal).
public enum ChildProcess {
    /// How a run ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
        case failedToStart(Int32)

        public var description: String {
            switch self {
            case .exited(let code): return "exited with status \(code)"
            case .signalled(let signal): return "killed by signal \(signal)"
            case .timedOut: return "timed out and was killed"
            case .failedToStart(let errno): return "could not start: \(String(cString: strerror(errno)))"
            }
        }
    }

    /// Runs `path` with `arguments`, waits at most `timeout`, kills it (SIGKILL) past that.
    public static func run(
        _ path: String, arguments: [String] = [], environment: [String: String], timeout: Duration
    ) async -> Termination {
        let pid: pid_t
        switch spawn(path, arguments: arguments, environment: environment) {
        case .success(let spawned): pid = spawned
        case .failure(let error): return .failedToStart(error.errno)
        }
        return await withCheckedContinuation { continuation in
            let finished = ManagedFlag()
            let timeoutSeconds = Double(timeout.components.seconds)
                + Double(timeout.components.attoseconds) / 1e18
            DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds) {
                if finished.setIfUnset(timedOut: true) { kill(pid, SIGKILL) }
            }
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let timedOut = !finished.setIfUnset(timedOut: false)
                if timedOut {
                    continuation.resume(returning: .timedOut)
                } else if status & 0x7f == 0 {
                    continuation.resume(returning: .exited((status >> 8) & 0xff))
                } else {
                    continuation.resume(returning: .signalled(status & 0x7f))
                }
            }
        }
    }

    private struct SpawnError: Error { let errno: Int32 }

    private static func spawn(_ path: String, arguments: [String], environment: [String: String]) -> Result<pid_t, SpawnError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A fresh signal mask and default dispositions: the daemon blocks signals it handles itself.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        return rc == 0 ? .success(pid) : .failure(SpawnError(errno: rc))
    }
}

/// A once-only flag shared by the waiter and the timeout: whichever sets it first wins.
private final class ManagedFlag: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var set = false
    private var timedOut = false

    init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }

    /// Sets the flag if unset and returns `true`; returns `false` when the other side got there first.
    func setIfUnset(timedOut: Bool) -> Bool {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if set { return false }
        set = true
        self.timedOut = timedOut
        return true
    }
}
