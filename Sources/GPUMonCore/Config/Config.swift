/// gpumon's configuration, as read from `/etc/gpumon/gpumon.toml`. Every key is documented in
/// `docs/configuration.md`; defaults here are the documented ones.
public struct Config: Sendable, Equatable {
    /// `[daemon]`.
    public struct Daemon: Sendable, Equatable {
        /// The driver every selected function is kept on.
        public var targetDriver = "vfio-pci"
        /// Whether the boot VGA device (the host console) may be selected.
        public var allowBootVGA = false
        public var socket = "/run/gpumon/gpumon.sock"
        public var stateDir = "/var/lib/gpumon"
        /// Which uevents to listen to: `udev` (after udevd's rules), `kernel` (raw), or `auto` (udev when
        /// systemd-udevd runs, else kernel).
        public var ueventSource: UeventSource = .auto
        /// A device grabbed by a host driver more than this many times within `flapWindow` is left alone.
        public var flapLimit = 5
        public var flapWindow: Duration = .seconds(300)
        /// How long a flapping device is left alone before gpumon tries again.
        public var flapBackoff: Duration = .seconds(600)
        public init() {}
    }

    /// One `[[gpu]]` entry: a rule that selects functions by ID and/or address.
    public struct GPU: Sendable, Equatable {
        public var ids: [PCIID] = []
        public var addresses: [PCIAddress] = []
        /// Also take the other functions of the same slot (HDMI audio, USB-C…).
        public var companions = true
        public var resetAfterStop: ResetAfterStop = .auto
        public var resetMethods: [ResetMethod] = ResetMethod.defaultOrder
        /// The config line of the `[[gpu]]` header, for messages.
        public var line: Int = 0
        public init() {}
    }

    /// `[reset]`: the per-device reset budget.
    public struct Reset: Sendable, Equatable {
        public var maxResets = 3
        public var window: Duration = .seconds(600)
        public var minInterval: Duration = .seconds(30)
        /// Release signals for the same function closer than this are one stop (hook, log and process exit all
        /// report it).
        public var dedupeWindow: Duration = .seconds(5)
        /// How long one reset method may block in the kernel before the next is tried.
        public var stepTimeout: Duration = .seconds(30)
        /// How long the functions may take to come back healthy after a reset method.
        public var settleTimeout: Duration = .seconds(10)
        public init() {}
    }

    /// `[libvirt]`.
    public struct Libvirt: Sendable, Equatable {
        public var logDirs = ["/var/log/libvirt/qemu", "/var/log/kolla/libvirt/qemu"]
        /// What the hook does on `prepare begin` (and an incoming `migrate begin`) for a selected GPU that is not
        /// ready: refuse the start, log and allow it, or not ask at all.
        public var gate: Gate = .enforce
        /// How long the hook waits for a reset running or due on the slot before deciding again.
        public var gateTimeout: Duration = .seconds(60)
        /// What the hook does when the daemon does not answer: gpumon being down must not block VM starts unless
        /// the operator says so.
        public var gateWhenDown: GateWhenDown = .allow
        public init() {}

        /// `[libvirt] gate`.
        public enum Gate: String, Sendable, CaseIterable {
            case enforce, warn, off
        }

        /// `[libvirt] gate_when_down`.
        public enum GateWhenDown: String, Sendable, CaseIterable {
            case allow, refuse
        }
    }

    /// `[alerts]`.
    public struct Alerts: Sendable, Equatable {
        /// A program run on each alert (no shell); `nil` when unset.
        public var command: String?
        /// A Prometheus node_exporter textfile path; `nil` when unset.
        public var textfile: String?
        /// How long `command` may run before it is killed.
        public var commandTimeout: Duration = .seconds(10)
        public init() {}
    }

    public var daemon = Daemon()
    public var gpus: [GPU] = []
    public var reset = Reset()
    public var libvirt = Libvirt()
    public var alerts = Alerts()
    public var placement = Placement()
    /// Where the config was read from, for messages.
    public var source = ""

    public init() {}

    /// `[daemon] uevent_source`.
    public enum UeventSource: String, Sendable, CaseIterable {
        case auto, udev, kernel
    }

    /// The default location.
    public static let defaultPath = "/etc/gpumon/gpumon.toml"
}
