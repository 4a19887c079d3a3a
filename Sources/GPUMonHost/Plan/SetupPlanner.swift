import GPUMonCore

/// Computes a ``SetupPlan`` from a snapshot and the requirements. Pure: it never reads the host, so a dry run,
/// an apply and a test all see the same plan for the same inputs.
public enum SetupPlanner {
    /// Plans every change; an already prepared host gets an empty plan (which is what makes `--apply`
    /// idempotent).
    public static func plan(_ snapshot: HostSnapshot, requirements: PassthroughRequirements) -> SetupPlan {
        var plan = SetupPlan()
        plan.notes = requirements.notes
        let family = snapshot.facts.os.family
        let files = snapshot.files

        // 1. The kernel command line.
        var grubChanged = false
        if let text = files["etc/default/grub"] {
            var grub = GrubDefaults(text: text)
            do {
                try grub.apply(requirements.kernelParameters)
                if grub.text != text {
                    plan.changes.append(FileChange(path: "etc/default/grub", old: text, new: grub.text,
                        reason: "kernel command line: "
                            + requirements.kernelParameters.map(\.token).joined(separator: " ")))
                    grubChanged = true
                }
            } catch {
                plan.problems.append("/etc/default/grub: \(error.message)")
            }
        } else {
            plan.problems.append("/etc/default/grub does not exist: is GRUB the boot loader? Add "
                + requirements.kernelParameters.map(\.token).joined(separator: " ")
                + " to the kernel command line by hand")
        }

        // 2. Modules loaded at boot: any modules-load.d file (or /etc/modules on Debian) may already list them.
        if !requirements.modules.isEmpty {
            var listed = Set(snapshot.files(under: "etc/modules-load.d/").flatMap { ModuleList(text: $0.text).modules })
            if family == .debian { listed.formUnion(ModuleList(text: files["etc/modules"] ?? "").modules) }
            if requirements.modules.contains(where: { !listed.contains($0) }) {
                let path = family.bootModulesFile
                var list = ModuleList(text: files[path] ?? "")
                list.add(requirements.modules.filter { !listed.contains($0) })
                plan.changes.append(FileChange(path: path, old: files[path], new: list.text,
                    reason: "load " + requirements.modules.joined(separator: ", ") + " at boot"))
            }
        }

        // 3. The same modules inside the initramfs, so vfio-pci is there before the GPU drivers.
        var initramfsChanged = false
        if !requirements.modules.isEmpty {
            let path = family.initramfsModulesFile
            switch family {
            case .debian:
                var list = ModuleList(text: files[path] ?? "")
                list.add(requirements.modules)
                if list.text != (files[path] ?? "") {
                    plan.changes.append(FileChange(path: path, old: files[path], new: list.text,
                        reason: "put VFIO into the initramfs"))
                    initramfsChanged = true
                }
            case .rhel:
                let present = Set(snapshot.files(under: "etc/dracut.conf.d/").flatMap {
                    DracutDriverList(text: $0.text).drivers
                })
                let missing = requirements.modules.filter { !present.contains($0) }
                if !missing.isEmpty {
                    var list = DracutDriverList(text: files[path] ?? "")
                    list.add(missing)
                    plan.changes.append(FileChange(path: path, old: files[path], new: list.text,
                        reason: "put VFIO into the initramfs and load it early"))
                    initramfsChanged = true
                }
            }
        }

        // 4. modprobe.d: the IDs and the soft dependencies.
        let modprobePath = HostInspector.modprobeFile
        let modprobeOld = files[modprobePath]
        var modprobe = ModprobeConfig(text: modprobeOld ?? Self.modprobeHeader)
        if !requirements.vfioPCIBuiltin && !requirements.vfioIDs.isEmpty { modprobe.setVFIOIDs(requirements.vfioIDs) }
        for driver in requirements.softdepDrivers { modprobe.addSoftdep(driver) }
        if modprobe.text != (modprobeOld ?? Self.modprobeHeader) {
            plan.changes.append(FileChange(path: modprobePath, old: modprobeOld, new: modprobe.text,
                reason: modprobeReason(requirements)))
            initramfsChanged = true
        }
        for (path, text) in snapshot.files(under: "etc/modprobe.d/") where path != modprobePath {
            if ModprobeConfig(text: text).vfioIDs != nil {
                plan.notes.append("\(HostRoot.hostPath(path)) also sets vfio-pci ids; modprobe uses the last one "
                    + "it reads, so remove them there and keep \(HostRoot.hostPath(modprobePath))")
            }
        }

        // 5. Regeneration commands, only for what changed.
        if grubChanged { plan.commands.append(grubCommand(snapshot)) }
        if initramfsChanged { plan.commands.append(family.initramfsRebuild) }

        if !plan.changes.isEmpty {
            plan.rebootReason = "the kernel command line, modules and initramfs take effect at the next boot"
        } else if let running = snapshot.runningCommandLine,
            !requirements.kernelParameters.allSatisfy({ $0.isSatisfied(by: running) })
        {
            plan.rebootReason = "the files are prepared but the running kernel was booted without "
                + requirements.kernelParameters.filter { !$0.isSatisfied(by: running) }.map(\.token)
                .joined(separator: " ")
        }
        return plan
    }

    private static func modprobeReason(_ requirements: PassthroughRequirements) -> String {
        var parts: [String] = []
        if !requirements.vfioIDs.isEmpty && !requirements.vfioPCIBuiltin {
            parts.append("vfio-pci claims " + requirements.vfioIDs.map(\.description).joined(separator: ","))
        }
        if !requirements.softdepDrivers.isEmpty {
            parts.append("loaded before " + requirements.softdepDrivers.joined(separator: ", "))
        }
        return parts.joined(separator: ", ")
    }

    /// The first lines of a modprobe file gpumon creates.
    static let modprobeHeader = """
        # VFIO for GPU passthrough, written by gpumon setup from the gpumon config.
        # vfio-pci claims these vendor:device IDs at boot; each softdep loads vfio-pci before that host driver.

        """

    /// The command that regenerates GRUB's configuration for this distribution and boot mode.
    ///
    /// Debian and Ubuntu: `update-grub`, whatever the firmware. Rocky/RHEL: `grub2-mkconfig -o` the file GRUB
    /// reads: `/boot/grub2/grub.cfg` under BIOS; under UEFI the file in the EFI partition, unless that file is the
    /// small stub RHEL 9 installs, which only loads `/boot/grub2/grub.cfg` (overwriting the stub with a full config
    /// breaks that indirection). From RHEL 9.3, `grub2-mkconfig` leaves the kernel options of the BLS entries
    /// alone unless given `--update-bls-cmdline` (rhboot/grub2 PR #126).
    public static func grubCommand(_ snapshot: HostSnapshot) -> PlannedCommand {
        let os = snapshot.facts.os
        switch os.family {
        case .debian:
            return PlannedCommand(["update-grub"], why: "regenerate /boot/grub/grub.cfg from /etc/default/grub")
        case .rhel:
            let output: String
            let efiConfig = HostInspector.efiGrubConfig(os)
            if snapshot.facts.bootMode == .uefi, let text = snapshot.files[efiConfig], !isStub(text) {
                output = HostRoot.hostPath(efiConfig)
            } else if snapshot.facts.bootMode == .uefi && snapshot.files[efiConfig] == nil && (os.majorVersion ?? 9) < 9 {
                output = HostRoot.hostPath(efiConfig)
            } else {
                output = "/boot/grub2/grub.cfg"
            }
            var argv = ["grub2-mkconfig", "-o", output]
            if needsBLSUpdateFlag(os) { argv.append("--update-bls-cmdline") }
            return PlannedCommand(argv, why: "regenerate \(output) from /etc/default/grub")
        }
    }

    /// Whether an EFI `grub.cfg` is RHEL 9's stub that hands over to `/boot/grub2/grub.cfg`.
    static func isStub(_ text: String) -> Bool {
        text.contains("configfile") && !text.contains("menuentry") && !text.contains("blscfg")
    }

    /// RHEL 9.3 and later (and their rebuilds) need `--update-bls-cmdline`.
    static func needsBLSUpdateFlag(_ os: HostOS) -> Bool {
        let parts = os.versionID.split(separator: ".").compactMap { Int($0) }
        guard let major = parts.first else { return false }
        return major > 9 || (major == 9 && (parts.count > 1 ? parts[1] : 0) >= 3)
    }
}
