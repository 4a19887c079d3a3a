public import GPUMonCore

/// The doctor's checks: pure verdicts on a ``HostSnapshot`` against the config, with fixes spelled for the
/// detected distribution and boot mode. The fixes reuse the planner's commands, so `doctor` never suggests
/// something `setup` would do differently.
public struct HostDoctor: Sendable {
    public let snapshot: HostSnapshot
    public let config: Config
    public let selection: Selection?
    public let requirements: PassthroughRequirements
    /// What `setup --apply` would change now.
    public let plan: SetupPlan

    public init(snapshot: HostSnapshot, config: Config) {
        self.snapshot = snapshot
        self.config = config
        selection = snapshot.topology.map { SelectionResolver.resolve(config, topology: $0) }
        requirements = PassthroughRequirements.build(
            config: config, facts: snapshot.facts, topology: snapshot.topology, selection: selection)
        plan = SetupPlanner.plan(snapshot, requirements: requirements)
    }

    /// Every check, in the order of the guide: CPU and IOMMU, kernel command line, VFIO modules and IDs,
    /// initramfs, then each device, then what the daemon needs.
    public func run() -> [DoctorCheck] {
        var checks = [cpu(), iommu(), grub(), runningCommandLine(), vfioLoaded(), vfioAtBoot(), vfioIDs(),
            hostDrivers(), initramfs(), selectionCheck()]
        checks += groups()
        checks += drivers()
        checks += resets()
        checks += [libvirt()]
        checks += libvirtManaged()
        checks += [service()]
        return checks
    }

    // MARK: - Fixes

    var facts: HostFacts { snapshot.facts }
    var grubCommand: String { SetupPlanner.grubCommand(snapshot).description }
    var initramfsCommand: String { facts.os.family.initramfsRebuild.description }
    static let setupFix = "gpumon setup --apply"

    private var parameterText: String { requirements.kernelParameters.map(\.token).joined(separator: " ") }

    // MARK: - CPU and IOMMU

    func cpu() -> DoctorCheck {
        let names: (vendor: String, feature: String, flag: String, iommu: String)
        switch facts.cpu.vendor {
        case .intel: names = ("Intel", "VT-x", "vmx", "VT-d")
        case .amd: names = ("AMD", "AMD-V", "svm", "AMD-Vi (IOMMU)")
        case .unknown:
            return DoctorCheck("cpu", .warn, "unknown CPU vendor in /proc/cpuinfo: cannot tell which IOMMU "
                + "parameter to use", fix: ["add intel_iommu=on or amd_iommu=on to GRUB_CMDLINE_LINUX by hand"])
        }
        if let flag = facts.cpu.virtualizationFlag {
            return DoctorCheck("cpu", .pass, "\(names.vendor) CPU with \(names.feature) (\(flag))")
        }
        return DoctorCheck("cpu", .fail,
            "\(names.vendor) CPU without the \(names.flag) flag: \(names.feature) is off in the firmware, or this "
                + "is a VM without nested virtualization",
            fix: ["enable \(names.feature) and \(names.iommu) in the firmware setup, then reboot"])
    }

    func iommu() -> DoctorCheck {
        if !snapshot.iommuUnits.isEmpty && !snapshot.iommuGroups.isEmpty {
            return DoctorCheck("iommu", .pass, "IOMMU active (\(snapshot.iommuUnits.joined(separator: ", "))), "
                + "\(snapshot.iommuGroups.count) IOMMU groups")
        }
        let what = snapshot.iommuUnits.isEmpty
            ? "no IOMMU is active: /sys/class/iommu is empty" : "the IOMMU is active but there are no IOMMU groups"
        let feature = facts.cpu.vendor == .amd ? "AMD-Vi (IOMMU)" : "VT-d"
        return DoctorCheck("iommu", .fail, what, fix: [
            "enable \(feature) in the firmware setup", Self.setupFix + ": adds \(parameterText)", "reboot",
        ])
    }

    // MARK: - Kernel command line

    func grub() -> DoctorCheck {
        guard let text = snapshot.files["etc/default/grub"] else {
            return DoctorCheck("grub", .fail, "/etc/default/grub does not exist",
                fix: ["add \(parameterText) to the boot loader's kernel command line by hand"])
        }
        let grub = GrubDefaults(text: text)
        do {
            let tokens = (try grub.commandLine() ?? []) + (try grub.defaultCommandLine() ?? [])
            let missing = requirements.kernelParameters.filter { !$0.isSatisfied(by: tokens) }
            if missing.isEmpty {
                return DoctorCheck("grub", .pass, "GRUB_CMDLINE_LINUX has \(parameterText)")
            }
            return DoctorCheck("grub", .fail,
                "GRUB_CMDLINE_LINUX lacks \(missing.map(\.token).joined(separator: " "))",
                fix: [Self.setupFix,
                    "by hand: add \(missing.map(\.token).joined(separator: " ")) to GRUB_CMDLINE_LINUX in "
                        + "/etc/default/grub, run \(grubCommand), reboot"])
        } catch {
            return DoctorCheck("grub", .fail, "/etc/default/grub: \(error.message)",
                fix: ["make GRUB_CMDLINE_LINUX one line without backslashes, then \(Self.setupFix)"])
        }
    }

    func runningCommandLine() -> DoctorCheck {
        guard let running = snapshot.runningCommandLine else {
            return DoctorCheck("cmdline", .skip, "no /proc/cmdline under this root: not a running system")
        }
        let missing = requirements.kernelParameters.filter { !$0.isSatisfied(by: running) }
        if missing.isEmpty { return DoctorCheck("cmdline", .pass, "the running kernel has \(parameterText)") }
        let text = missing.map(\.token).joined(separator: " ")
        let grubReady = (try? GrubDefaults(text: snapshot.files["etc/default/grub"] ?? "")
            .satisfies(requirements.kernelParameters)) ?? false
        if grubReady {
            return DoctorCheck("cmdline", .warn, "the running kernel lacks \(text); /etc/default/grub has it: "
                + "reboot pending", fix: ["reboot"])
        }
        return DoctorCheck("cmdline", .fail, "the running kernel lacks \(text) (/proc/cmdline)",
            fix: [Self.setupFix, "reboot"])
    }

    // MARK: - VFIO modules and IDs

    func vfioLoaded() -> DoctorCheck {
        let wanted = ["vfio", "vfio_iommu_type1", "vfio_pci"]
        let missing = wanted.filter { !snapshot.loadedModules.contains($0) && !facts.kernel.isBuiltin($0) }
        if missing.isEmpty { return DoctorCheck("vfio-loaded", .pass, "vfio, vfio_iommu_type1 and vfio_pci are loaded") }
        return DoctorCheck("vfio-loaded", .fail, "not loaded: \(missing.joined(separator: ", "))",
            fix: ["modprobe vfio-pci (loads vfio and vfio_iommu_type1 too)", Self.setupFix + " (loads them at boot)"])
    }

    func vfioAtBoot() -> DoctorCheck {
        let family = facts.os.family
        if requirements.modules.isEmpty {
            return DoctorCheck("vfio-boot", .pass, "vfio, vfio_iommu_type1 and vfio_pci are built into the kernel")
        }
        var listed = Set(snapshot.files(under: "etc/modules-load.d/").flatMap { ModuleList(text: $0.text).modules })
        if family == .debian { listed.formUnion(ModuleList(text: snapshot.files["etc/modules"] ?? "").modules) }
        let missing = requirements.modules.filter { !listed.contains($0) }
        let file = HostRoot.hostPath(family.bootModulesFile)
        if missing.isEmpty {
            return DoctorCheck("vfio-boot", .pass, "loaded at boot: \(requirements.modules.joined(separator: ", "))")
        }
        return DoctorCheck("vfio-boot", .fail, "not configured to load at boot: \(missing.joined(separator: ", "))",
            fix: [Self.setupFix, "by hand: add \(missing.joined(separator: " ")) to \(file), one per line"])
    }

    /// The `ids=` vfio-pci gets from modprobe.d: files are read in name order and the last setting wins.
    var configuredIDs: (ids: [PCIID], file: String)? {
        var found: (ids: [PCIID], file: String)?
        for (path, text) in snapshot.files(under: "etc/modprobe.d/") {
            if let ids = ModprobeConfig(text: text).vfioIDs { found = (ids.ids, HostRoot.hostPath(path)) }
        }
        return found
    }

    func vfioIDs() -> DoctorCheck {
        let wanted = requirements.vfioIDs
        let wantedText = wanted.map(\.description).joined(separator: ",")
        if wanted.isEmpty {
            let why = requirements.notes.first { $0.contains("left out of vfio-pci ids") }
            return DoctorCheck("vfio-ids", .warn, "no IDs for vfio-pci to claim at boot"
                + (why.map { ": \($0)" } ?? ": the config selects nothing here"))
        }
        if requirements.vfioPCIBuiltin {
            let tokens = (try? GrubDefaults(text: snapshot.files["etc/default/grub"] ?? "").commandLine()) ?? nil
            if KernelParameter.exact("vfio-pci.ids", wanted.map(\.description)).isSatisfied(by: tokens ?? []) {
                return DoctorCheck("vfio-ids", .pass, "vfio-pci is built in; GRUB_CMDLINE_LINUX has vfio-pci.ids=\(wantedText)")
            }
            return DoctorCheck("vfio-ids", .fail, "vfio-pci is built in (modprobe.d options do not apply) and "
                + "GRUB_CMDLINE_LINUX lacks vfio-pci.ids=\(wantedText)", fix: [Self.setupFix, "reboot"])
        }
        let file = HostRoot.hostPath(HostInspector.modprobeFile)
        guard let configured = configuredIDs else {
            return DoctorCheck("vfio-ids", .fail, "no options vfio-pci ids= in /etc/modprobe.d",
                fix: [Self.setupFix, "by hand: options vfio-pci ids=\(wantedText) in \(file), then "
                    + "\(initramfsCommand), reboot"])
        }
        let have = Set(configured.ids)
        let missing = wanted.filter { !have.contains($0) }
        let extra = configured.ids.filter { !wanted.contains($0) }
        if !missing.isEmpty {
            return DoctorCheck("vfio-ids", .fail, "\(configured.file) ids lack "
                + missing.map(\.description).joined(separator: ","),
                fix: [Self.setupFix, "by hand: options vfio-pci ids=\(wantedText) in \(file), then "
                    + "\(initramfsCommand), reboot"])
        }
        if !extra.isEmpty {
            return DoctorCheck("vfio-ids", .warn, "\(configured.file) also claims "
                + extra.map(\.description).joined(separator: ",") + ", which the config does not select",
                fix: [Self.setupFix + " (sets exactly \(wantedText))"])
        }
        return DoctorCheck("vfio-ids", .pass, "\(configured.file): options vfio-pci ids=\(wantedText)")
    }

    func hostDrivers() -> DoctorCheck {
        let modprobe = snapshot.files(under: "etc/modprobe.d/").map { ModprobeConfig(text: $0.text) }
        let grubTokens = (try? GrubDefaults(text: snapshot.files["etc/default/grub"] ?? "").commandLine()) ?? nil
        let blacklisted = Set(KernelParameter.values(of: "modprobe.blacklist", in: grubTokens ?? [])
            .flatMap(KernelParameter.items).map { KernelModules.normalize($0) })
        var kept: [String] = []
        var open: [String] = []
        for driver in requirements.softdepDrivers {
            if modprobe.contains(where: { $0.hasSoftdep(driver) || $0.blacklists(driver) })
                || blacklisted.contains(KernelModules.normalize(driver))
            {
                kept.append(driver)
            } else {
                open.append(driver)
            }
        }
        if requirements.softdepDrivers.isEmpty {
            return DoctorCheck("host-drivers", .pass, "no host driver would claim the selected functions")
        }
        if open.isEmpty {
            return DoctorCheck("host-drivers", .pass, "kept off (softdep or blacklist): \(kept.joined(separator: ", "))")
        }
        return DoctorCheck("host-drivers", .fail,
            "may claim the GPUs before vfio-pci (no softdep, not blacklisted): \(open.joined(separator: ", "))",
            fix: [Self.setupFix, "by hand: " + open.map { "softdep \($0) pre: vfio-pci" }.joined(separator: "; ")
                + " in \(HostRoot.hostPath(HostInspector.modprobeFile)), then \(initramfsCommand)"])
    }

    func initramfs() -> DoctorCheck {
        if requirements.modules.isEmpty {
            return DoctorCheck("initramfs", .pass, "vfio-pci is built into the kernel: nothing to load from the initramfs")
        }
        switch snapshot.initramfs {
        case .skipped(let why):
            return DoctorCheck("initramfs", .skip, why)
        case .unavailable(let why):
            return DoctorCheck("initramfs", .warn, "cannot inspect the initramfs: \(why)")
        case .failed(let why):
            return DoctorCheck("initramfs", .warn, "cannot inspect the initramfs: \(why)")
        case .listed(let image, let files):
            let hasModule = files.contains { $0.contains("/vfio-pci.ko") || $0.contains("/vfio_pci.ko") }
            let hasOptions = files.contains { $0.hasSuffix("etc/modprobe.d/vfio.conf") }
            let needsOptions = snapshot.files[HostInspector.modprobeFile] != nil
            var lacking: [String] = []
            if !hasModule { lacking.append("vfio-pci.ko") }
            if needsOptions && !hasOptions { lacking.append("etc/modprobe.d/vfio.conf") }
            if !lacking.isEmpty {
                return DoctorCheck("initramfs", .fail, "\(image) lacks \(lacking.joined(separator: " and "))",
                    fix: [Self.setupFix, "or, with the files already in place: \(initramfsCommand), reboot"])
            }
            if let imageTime = snapshot.modificationTimes[facts.kernel.release.map {
                facts.os.family.initramfsImage(kernelRelease: $0)
            } ?? ""], let confTime = snapshot.modificationTimes[HostInspector.modprobeFile], confTime > imageTime {
                return DoctorCheck("initramfs", .warn,
                    "\(image) is older than /etc/modprobe.d/vfio.conf: it may hold old IDs",
                    fix: [initramfsCommand, "reboot"])
            }
            return DoctorCheck("initramfs", .pass, "\(image) has vfio-pci"
                + (needsOptions ? " and /etc/modprobe.d/vfio.conf" : ""))
        }
    }
}
