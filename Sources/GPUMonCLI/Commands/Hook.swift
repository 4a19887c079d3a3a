import ArgumentParser
import GPUMonCore
import GPUMonDaemon
import HostFS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `gpumon hook`: libvirt's qemu hook. Tells the daemon that a VM released its PCI host devices, and is the
/// admission gate: on `prepare begin` (and an incoming `migrate begin`) it asks the daemon whether every selected
/// GPU of the domain is ready, and refuses the start when one is not.
///
/// libvirt waits for its hooks, so this command is built to end whatever happens: a hard timer ends the process
/// at ``hardDeadline`` (for the gate: `[libvirt] gate_timeout` plus a margin), stdin is read with a bound and a
/// deadline, the socket has a timeout, and nothing ever calls back into libvirt. It prints nothing on stdout (a
/// `qemu.d` script's stdout replaces the XML for the next script; empty means unchanged) and at most one line on
/// stderr. Only the gate exits non-zero (``Hook/refusedStatus``): libvirt then fails the start with that line.
struct Hook: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run as libvirt's qemu hook: tell the daemon that a VM released its PCI host devices.",
        discussion: """
            Install as /etc/libvirt/hooks/qemu or a script in /etc/libvirt/hooks/qemu.d/ that runs \
            'gpumon hook -- "$@"' (see docs/vm-lifecycle.md; '--' keeps a domain named like an option a domain). libvirt passes <domain> <operation> <sub-operation> \
            <extra> and the domain XML on stdin. On 'stopped end' and 'release end' the PCI <hostdev> addresses \
            are sent to the daemon's socket. On 'prepare begin' and 'migrate begin' (the admission gate, \
            [libvirt] gate) the daemon is asked whether each selected GPU is ready; the hook waits while a reset \
            runs (at most gate_timeout) and exits 1 with one line on stderr when a GPU is quarantined, stuck, held \
            or not on its driver. Every other operation exits 0 within 1 second. Never prints on stdout.
            """
    )

    /// The process ends by then, with status 0, whatever it is waiting for (the gate's calls: see ``run()``).
    static let hardDeadline: Duration = .milliseconds(800)
    /// The gate's exit status for a refused start (libvirt treats any non-zero status as a failed hook).
    static let refusedStatus: Int32 = 1
    /// Past the gate's own wait: time for the daemon's last check and reply.
    static let gateMargin: Duration = .seconds(5)
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
            limit: input.isRelease || input.isAdmission ? Hook.stdinLimit : 0, deadline: started + Hook.stdinDeadline)
        if input.isAdmission {
            // The gate's line is printed as is: libvirt copies it into the start error (`virsh start`, Nova).
            var line: String?
            let status = admit(input, xml: String(decoding: stdin.bytes, as: UTF8.self), note: &line)
            if let line { printError(line) }
            if status != 0 { throw ExitCode(status) }
            return
        }
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

    /// The admission gate. Returns the exit status; `note` is the one stderr line (a refusal's reason and fix,
    /// or why the start is allowed without an answer).
    private func admit(_ input: HookInput, xml: String, note: inout String?) -> Int32 {
        let addresses = DomainXMLScanner.pciHostdevAddresses(in: xml)
        // No PCI host device: nothing of gpumon's concern, no need to ask.
        guard !addresses.isEmpty else { return 0 }
        let settings = loadConfig(note: &note)
        let path = socket ?? settings.daemon.socket
        let libvirt = settings.libvirt
        if libvirt.gate == .off {
            // Still worth telling the daemon that a run began (it tells a quick second run from a late signal).
            _ = try? ControlClient.send(ControlRequest(command: "started", domain: input.domain,
                addresses: addresses.map(\.description), reason: input.reason), path: path, timeout: .milliseconds(500))
            return 0
        }
        Hook.rearmHardDeadline(libvirt.gateTimeout + Hook.gateMargin,
            status: libvirt.gateWhenDown == .refuse ? Hook.refusedStatus : 0)
        let request = ControlRequest(command: "gate", domain: input.domain, addresses: addresses.map(\.description),
            reason: input.reason)
        do {
            let response = try ControlClient.send(request, path: path, timeout: libvirt.gateTimeout + Hook.gateMargin)
            if response.ok {
                if let warning = response.lines?.first(where: { $0.hasPrefix("warning: ") }) {
                    note = "gpumon hook: " + warning
                }
                return 0
            }
            let line = response.error ?? "gpumon: not starting \(input.domain): the daemon refused without a reason"
            note = line
            return libvirt.gate == .warn ? 0 : Hook.refusedStatus
        } catch {
            // gpumon being down must not block VM starts unless the operator chose so.
            if libvirt.gateWhenDown == .refuse {
                note = "gpumon: not starting \(input.domain): cannot ask the gpumon daemon (\(error)); "
                    + "fix: start it (`systemctl start gpumon`), or set [libvirt] gate_when_down = \"allow\""
                return Hook.refusedStatus
            }
            note = "gpumon hook: gate not asked, start allowed (gate_when_down = allow): \(error)"
            return 0
        }
    }

    /// `--socket`, else the config's (when the config exists and is valid), else the default.
    private func socketPath(note: inout String?) -> String {
        socket ?? loadConfig(note: &note).daemon.socket
    }

    /// The config (when it exists and is valid), else the defaults.
    private func loadConfig(note: inout String?) -> Config {
        let path = global.resolvedConfigPath
        // A missing config is normal on a host where the hook is installed before gpumon is configured.
        guard FileTree(root: "/").exists(path) else { return Config() }
        do {
            return try ConfigLoader.load(path: path)
        } catch {
            note = "\(error); using the defaults"
            return Config()
        }
    }

    /// The exit status of the process when the hard timer fires (read in the signal handler).
    nonisolated(unsafe) static var deadlineStatus: Int32 = 0

    /// Moves the hard timer to `limit` from now, with `status` as the exit status when it fires: the gate's wait
    /// is longer than the other operations' 800 ms.
    static func rearmHardDeadline(_ limit: Duration, status: Int32) {
        deadlineStatus = status
        setTimer(limit)
    }

    /// Ends the process with status 0 at ``hardDeadline`` from now, from a signal handler (`_exit` is
    /// async-signal-safe), and ignores `SIGPIPE` so a daemon closing the socket early cannot kill the hook with a
    /// non-zero status.
    static func armHardDeadline() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGALRM) { _ in _exit(Hook.deadlineStatus) }
        setTimer(hardDeadline)
    }

    private static func setTimer(_ limit: Duration) {
        let micro = Int(limit.components.seconds * 1_000_000
            + limit.components.attoseconds / 1_000_000_000_000)
        var timer = itimerval(
            it_interval: timeval(tv_sec: 0, tv_usec: 0),
            it_value: timeval(tv_sec: micro / 1_000_000, tv_usec: micro % 1_000_000))
        setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &timer, nil)
    }
}
