import ArgumentParser
import GPUMonCore
import GPUMonDaemon
import HostFS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `gpumon hook`: libvirt's qemu hook. Tells the daemon that a VM released its PCI host devices.
///
/// libvirt waits for its hooks, so this command is built to end fast whatever happens: a hard timer ends the
/// process with status 0 at ``hardDeadline``, stdin is read with a bound and a deadline, the socket has a short
/// timeout, and nothing ever calls back into libvirt. It prints nothing on stdout (a `qemu.d` script's stdout
/// replaces the XML for the next script; empty means unchanged) and at most one line on stderr.
struct Hook: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run as libvirt's qemu hook: tell the daemon that a VM released its PCI host devices.",
        discussion: """
            Install as /etc/libvirt/hooks/qemu or a script in /etc/libvirt/hooks/qemu.d/ that runs \
            'gpumon hook -- "$@"' (see docs/vm-lifecycle.md; '--' keeps a domain named like an option a domain). libvirt passes <domain> <operation> <sub-operation> \
            <extra> and the domain XML on stdin. On 'stopped end' and 'release end' the PCI <hostdev> addresses \
            are sent to the daemon's socket; every other operation is ignored. Always exits 0 within 1 second and \
            prints nothing on stdout.
            """
    )

    /// The process ends by then, with status 0, whatever it is waiting for.
    static let hardDeadline: Duration = .milliseconds(800)
    /// How long stdin may take to arrive (libvirt writes it at once; a writer that never closes is cut off).
    static let stdinDeadline: Duration = .milliseconds(400)
    /// Domain XML is a few kilobytes; anything beyond this is drained and dropped. A 16 MiB XML is still read
    /// whole and scanned well inside the deadline (the scan is linear; docs/benchmarks.md).
    static let stdinLimit = 32 << 20

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The daemon's control socket (default: the config's [daemon] socket, else /run/gpumon/gpumon.sock).",
            valueName: "path"))
    var socket: String?

    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp("What libvirt passes: <domain> <operation> <sub-operation> <extra>.", valueName: "args"))
    var hookArguments: [String] = []

    func run() throws {
        // Arguments are captured verbatim so nothing libvirt passes can fail parsing (a non-zero exit on
        // `prepare begin` would stop the VM from starting); only a lone --help is honoured.
        if hookArguments == ["--help"] || hookArguments == ["-h"] { throw CleanExit.helpRequest(self) }
        let started = ContinuousClock.now
        Hook.armHardDeadline()
        var note: String?
        defer { if let note { printError("gpumon hook: \(note)") } }

        guard let input = HookInput(arguments: hookArguments) else {
            _ = BoundedInput.read(limit: 0, deadline: started + Hook.stdinDeadline)
            note = "expected <domain> <operation> <sub-operation> <extra>, got \(hookArguments.count) arguments"
            return
        }
        let stdin = BoundedInput.read(
            limit: input.isRelease ? Hook.stdinLimit : 0, deadline: started + Hook.stdinDeadline)
        guard input.isRelease else { return }
        // An XML cut short (over the limit, or a writer that never closed) still names the hostdevs read so far.
        guard let release = input.release(domainXML: String(decoding: stdin.bytes, as: UTF8.self)) else { return }

        let path = socketPath(note: &note)
        let request = ControlRequest(
            command: "released", source: ReleaseSignal.Source.hook.rawValue, domain: release.domain,
            addresses: release.addresses.map(\.description), reason: release.reason)
        let left = Hook.hardDeadline - started.duration(to: .now) - .milliseconds(50)
        do {
            let response = try ControlClient.send(request, path: path, timeout: max(left, .milliseconds(50)))
            if !response.ok { note = "daemon refused the release of \(input.domain): \(response.error ?? "unknown")" }
        } catch {
            note = "could not tell the daemon that \(input.domain) released its devices: \(error)"
        }
    }

    /// `--socket`, else the config's (when the config exists and is valid), else the default.
    private func socketPath(note: inout String?) -> String {
        if let socket { return socket }
        let path = global.resolvedConfigPath
        // A missing config is normal on a host where the hook is installed before gpumon is configured.
        guard FileTree(root: "/").exists(path) else { return Config.Daemon().socket }
        do {
            return try ConfigLoader.load(path: path).daemon.socket
        } catch {
            note = "\(error); using the default socket"
            return Config.Daemon().socket
        }
    }

    /// Ends the process with status 0 at ``hardDeadline`` from now, from a signal handler (`_exit` is
    /// async-signal-safe), and ignores `SIGPIPE` so a daemon closing the socket early cannot kill the hook with a
    /// non-zero status.
    static func armHardDeadline() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGALRM) { _ in _exit(0) }
        let micro = Int(hardDeadline.components.seconds * 1_000_000
            + hardDeadline.components.attoseconds / 1_000_000_000_000)
        var timer = itimerval(
            it_interval: timeval(tv_sec: 0, tv_usec: 0),
            it_value: timeval(tv_sec: micro / 1_000_000, tv_usec: micro % 1_000_000))
        setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &timer, nil)
    }
}
