public import GPUMonCore
import HostFS

/// Reads a ``HostSnapshot`` from a ``HostRoot``: the only part of host preparation that reads the machine.
public struct HostInspector: Sendable {
    public let root: HostRoot
    /// Runs the initramfs lister; `nil` skips that inspection (under `--root`, where tools must not run).
    public let runner: (any CommandRunner)?

    public init(root: HostRoot, runner: (any CommandRunner)?) {
        self.root = root
        self.runner = runner
    }

    /// Directories whose `*.conf` files are read into the snapshot.
    static let configDirectories = ["etc/modprobe.d", "etc/modules-load.d", "etc/dracut.conf.d"]
    /// Single files read into the snapshot, besides the per-distribution EFI GRUB file.
    static let singleFiles = ["etc/default/grub", "etc/modules", "etc/initramfs-tools/modules"]
    /// Paths whose existence doctor reports on, besides the config's libvirt log directories.
    public static let probedPaths = [
        "etc/libvirt/hooks/qemu", "etc/libvirt/hooks/qemu.d", "etc/kolla",
        "etc/systemd/system/multi-user.target.wants/gpumon.service", "etc/systemd/system/gpumon.service",
        "lib/systemd/system/gpumon.service", "usr/lib/systemd/system/gpumon.service",
    ]
    /// Where libvirt keeps persistent domain definitions (`virsh define`; Nova's instances, on a plain host).
    public static let libvirtDomainDirectory = "etc/libvirt/qemu"
    /// The modprobe file gpumon writes (the guide's).
    public static let modprobeFile = "etc/modprobe.d/vfio.conf"

    /// Reads the facts only: what `setup` and `doctor` both need before anything else.
    ///
    /// - Throws: ``HostError`` when the root is not a directory, os-release is absent or unreadable, or the
    ///   distribution is not supported.
    public func facts() throws(HostError) -> HostFacts {
        guard root.files.isDirectory("") else { throw .badRoot(path: root.files.root) }
        var osText = try read("etc/os-release")
        if osText == nil { osText = try read("usr/lib/os-release") }
        guard let osText else { throw .noOSRelease(path: root.files.path("etc/os-release")) }
        let os = try HostOS.parse(osRelease: osText)
        let cpu = CPUInfo.parse(try read("proc/cpuinfo") ?? "")
        let release = try read("proc/sys/kernel/osrelease")?.trimmingCharacters(in: " \n")
        var kernel = KernelModules(release: release.flatMap { $0.isEmpty ? nil : $0 })
        if let release = kernel.release {
            for base in ["lib/modules", "usr/lib/modules"] where root.files.isDirectory("\(base)/\(release)") {
                kernel.builtin = KernelModules.names(inModuleList: try read("\(base)/\(release)/modules.builtin") ?? "")
                kernel.loadable = KernelModules.names(inModuleList: try read("\(base)/\(release)/modules.dep") ?? "")
                break
            }
        }
        let bootMode: BootMode = root.sysfs.exists("firmware/efi") ? .uefi : .bios
        let units = (try? root.sysfs.list("class/iommu")) ?? nil
        return HostFacts(os: os, bootMode: bootMode, cpu: cpu, kernel: kernel,
            activeIOMMU: HostFacts.iommuVendor(units: units ?? []))
    }

    /// Reads the whole snapshot.
    public func snapshot(config: Config) throws(HostError) -> HostSnapshot {
        let facts = try facts()
        var snapshot = HostSnapshot(facts: facts)
        for path in Self.singleFiles + [Self.efiGrubConfig(facts.os)] {
            if let text = try read(path) { snapshot.files[path] = text }
        }
        for directory in Self.configDirectories {
            for name in try list(directory) where name.hasSuffix(".conf") {
                if let text = try read("\(directory)/\(name)") { snapshot.files["\(directory)/\(name)"] = text }
            }
        }
        // Persistent libvirt domain definitions: doctor lists the ones passing selected GPUs with managed='yes'.
        for name in try list(Self.libvirtDomainDirectory) where name.hasSuffix(".xml") {
            if let text = try read("\(Self.libvirtDomainDirectory)/\(name)") {
                snapshot.files["\(Self.libvirtDomainDirectory)/\(name)"] = text
            }
        }
        snapshot.runningCommandLine = try read("proc/cmdline").map(KernelParameter.tokenize)
        snapshot.iommuUnits = try listSysfs("class/iommu")
        snapshot.iommuGroups = try listSysfs("kernel/iommu_groups")
        var loaded = Set(try listSysfs("module").map { KernelModules.normalize($0) })
        for line in (try read("proc/modules") ?? "").split(separator: "\n") {
            if let name = line.split(separator: " ").first { loaded.insert(KernelModules.normalize(name)) }
        }
        snapshot.loadedModules = loaded
        do {
            let (topology, _) = try PCISysfs(sysfs: root.sysfs).scan()
            snapshot.topology = topology
        } catch {
            snapshot.topologyError = error.description
        }
        let probes = Self.probedPaths + config.libvirt.logDirs.map { String($0.drop(while: { $0 == "/" })) }
        snapshot.existingPaths = Set(probes.filter { root.files.exists($0) })
        let image = facts.kernel.release.map { facts.os.family.initramfsImage(kernelRelease: $0) }
        for path in [image, Self.modprobeFile].compactMap({ $0 }) {
            if let metadata = try metadata(path) { snapshot.modificationTimes[path] = metadata.modificationTime }
        }
        snapshot.initramfs = listInitramfs(image: image, family: facts.os.family)
        return snapshot
    }

    /// The GRUB file inside the EFI system partition for this distribution.
    public static func efiGrubConfig(_ os: HostOS) -> String { "boot/efi/EFI/\(os.efiDirectory)/grub.cfg" }

    // MARK: - Reading

    private func listInitramfs(image: String?, family: OSFamily) -> InitramfsListing {
        guard let runner else { return .skipped("not inspected under --root: the host's tools are not run on another root") }
        guard let image else { return .unavailable("the running kernel's release is unknown") }
        guard root.files.exists(image) else { return .unavailable("\(HostRoot.hostPath(image)) does not exist") }
        guard runner.locate(family.initramfsLister) != nil else {
            return .unavailable("\(family.initramfsLister) is not installed")
        }
        do {
            let output = try runner.run([family.initramfsLister, root.files.path(image)])
            guard output.status == 0 else {
                let why = output.stderr.split(separator: "\n").first.map(String.init) ?? "exit \(output.status)"
                return .failed("\(family.initramfsLister) \(HostRoot.hostPath(image)): \(why)")
            }
            return .listed(image: HostRoot.hostPath(image), files: output.stdout.split(separator: "\n").map(String.init))
        } catch {
            return .failed(error.description)
        }
    }

    /// The exact text of a file (trailing newline kept: diffs and edits depend on it), or `nil` when absent.
    func read(_ path: String) throws(HostError) -> String? {
        do {
            return try root.files.readBytes(path, maxBytes: 4 << 20).map { String(decoding: $0, as: UTF8.self) }
        } catch {
            throw .io(error)
        }
    }

    private func list(_ path: String) throws(HostError) -> [String] {
        do { return try root.files.list(path) ?? [] } catch { throw .io(error) }
    }

    /// sysfs directories are listed best-effort: an unreadable one reads as empty, which the checks report.
    private func listSysfs(_ path: String) throws(HostError) -> [String] {
        (try? root.sysfs.list(path)) ?? []
    }

    private func metadata(_ path: String) throws(HostError) -> FileMetadata? {
        do { return try root.files.metadata(path) } catch { throw .io(error) }
    }
}
