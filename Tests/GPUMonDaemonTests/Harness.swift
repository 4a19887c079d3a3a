import GPUMonCore
public import GPUMonDaemon
import GPUMonTestSupport
import HostFS
import Logging

extension FakeKernel: AttributeWriter {}
extension FaultyKernel: AttributeWriter {}

/// An enforcer wired to a fake kernel, a fake /proc and a capturing logger.
struct Harness {
    let sys: FakeSysfs
    let kernel: FakeKernel
    /// The writer the daemon uses: the fake kernel behind a fault injector (no faults unless a test plans some).
    let faulty: FaultyKernel
    let proc: FakeSysfs  // only its temp tree is used, as /proc
    let enforcer: Enforcer
    let alerts: AlertCenter
    let config: Config

    static let rtxDrivers: [PCIID: String] = [
        PCIID(vendor: 0x10de, device: 0x2204): "nvidia", PCIID(vendor: 0x10de, device: 0x1aef): "snd_hda_intel",
        PCIID(vendor: 0x8086, device: 0x3e92): "i915", PCIID(vendor: 0x8086, device: 0x1533): "igb",
    ]

    init(sys: FakeSysfs, config text: String, dryRun: Bool = false, ignoresOverride: Bool = false,
        registered: Set<String> = ["vfio-pci", "nvidia", "snd_hda_intel", "i915", "igb", "nouveau", "pcieport"])
        throws
    {
        self.sys = sys
        kernel = try FakeKernel(sys: sys, hostDrivers: Harness.rtxDrivers, registered: registered)
        kernel.ignoresOverride = ignoresOverride
        faulty = FaultyKernel(kernel: kernel)
        proc = try FakeSysfs()
        config = try ConfigLoader.parse(text, file: "test.toml")
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let metrics = DaemonMetrics()
        alerts = AlertCenter(logger: logger, metrics: metrics, command: nil, commandTimeout: .seconds(1))
        let environment = Enforcer.Environment(
            sysfs: sys.tree, proc: proc.tree, writer: faulty, dryRun: dryRun, ueventSource: "kernel",
            loadModule: { _ in false })
        enforcer = Enforcer(config: config, environment: environment, logger: logger, metrics: metrics, alerts: alerts)
    }

    func driver(_ address: String) throws -> String? { kernel.driver(of: try PCIAddress(parsing: address)) }

    func alertKinds() -> [AlertKind] { alerts.latest.map(\.kind) }

    /// Makes process `pid` hold `/dev/vfio/<group>` open.
    func holdGroup(_ group: Int, pid: Int = 4242) throws {
        try holdNode("/dev/vfio/\(group)", pid: pid)
    }

    /// Makes process `pid` hold a device node open (`/dev/vfio/devices/vfio0`, `/dev/dri/card0`…).
    func holdNode(_ node: String, pid: Int = 4242, fd: Int = 17) throws {
        try proc.tree.createDirectory("\(pid)/fd")
        try proc.tree.createSymlink("\(pid)/fd/\(fd)", target: node)
    }

    /// The holder from ``holdGroup(_:pid:)`` closes the group (exits).
    func releaseGroup(_ group: Int, pid: Int = 4242) throws {
        try proc.tree.removeFile("\(pid)/fd/17")
    }

    /// A host driver binds the function behind gpumon's back, and the kernel sends the bind event.
    func grab(_ address: String, by driver: String) async throws {
        let pci = try PCIAddress(parsing: address)
        try sys.bind(pci, to: driver)
        await enforcer.handle(PCIEvent(action: .bind, address: pci, driver: driver, id: nil))
    }
}
