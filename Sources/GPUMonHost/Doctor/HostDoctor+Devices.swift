import GPUMonCore

// The per-device checks and what the daemon needs: selection, IOMMU groups, bindings, resets, libvirt, service.
extension HostDoctor {
    func selectionCheck() -> DoctorCheck {
        guard let topology = snapshot.topology, let selection else {
            return DoctorCheck("selection", .fail, "cannot read PCI devices: \(snapshot.topologyError ?? "no sysfs")",
                fix: ["mount sysfs, or pass --sysfs-root"])
        }
        if selection.selected.isEmpty {
            return DoctorCheck("selection", .fail, "the config (\(config.source)) selects no device on this host",
                fix: ["set [[gpu]] ids to the IDs `lspci -nn` shows (e.g. [10de:2204]), then gpumon check-config"])
        }
        let listed = selection.selectedAddresses.compactMap { address in
            topology[address].map { "\(address) (\($0.id))" }
        }.joined(separator: ", ")
        var warnings: [String] = []
        for (rule, id) in selection.unmatchedIDs { warnings.append("[[gpu]] #\(rule) ids \(id) matches nothing") }
        for (address, rule) in selection.missing.sorted(by: { $0.key < $1.key }) {
            warnings.append("[[gpu]] #\(rule) address \(address) is not present")
        }
        if !warnings.isEmpty {
            return DoctorCheck("selection", .warn, "selects \(listed); " + warnings.joined(separator: "; "),
                fix: ["gpumon check-config shows the details"])
        }
        return DoctorCheck("selection", .pass, "selects \(listed)")
    }

    func groups() -> [DoctorCheck] {
        guard let topology = snapshot.topology, let selection else { return [] }
        var seen: Set<Int> = []
        var checks: [DoctorCheck] = []
        for address in selection.selectedAddresses {
            guard let group = topology[address]?.iommuGroup, seen.insert(group).inserted else { continue }
            let viability = GroupViability.evaluate(
                group: group, topology: topology, selection: selection, targetDriver: config.daemon.targetDriver)
            let members = topology.groupMembers(group).filter { !$0.isBridge }.map(\.address.description)
            if viability.isViable {
                checks.append(DoctorCheck("iommu-group", subject: "group \(group)", .pass,
                    "viable: \(members.joined(separator: ", "))"))
            } else {
                let blockers = viability.blockers.map { address in
                    "\(address) (\(topology[address]?.driver ?? "no driver"))"
                }.joined(separator: ", ")
                checks.append(DoctorCheck("iommu-group", subject: "group \(group)", .fail,
                    "not viable: \(blockers) share the group, are not selected and are on a host driver",
                    fix: ["select them too (add their addresses to a [[gpu]] entry) if they may go to the VM",
                        "or move the card to a slot with its own group (see /sys/kernel/iommu_groups)"]))
            }
        }
        return checks
    }

    func drivers() -> [DoctorCheck] {
        guard let topology = snapshot.topology, let selection else { return [] }
        let target = config.daemon.targetDriver
        return selection.selectedAddresses.compactMap { address -> DoctorCheck? in
            guard let device = topology[address] else { return nil }
            if device.driver == target {
                return DoctorCheck("driver", subject: address.description, .pass, "\(device.id) on \(target)")
            }
            let sys = "/sys/bus/pci/devices/\(address)"
            var fix: [String] = []
            if device.driver != nil { fix.append("echo \(address) > \(sys)/driver/unbind") }
            fix.append("echo \(target) > \(sys)/driver_override")
            fix.append("echo \(address) > /sys/bus/pci/drivers_probe")
            if device.driver == nil {
                fix.append("or, as in the guide: echo \(device.id.vendorHex) \(device.id.deviceHex) > "
                    + "/sys/bus/pci/drivers/\(target)/new_id")
            }
            fix.append("for good: \(Self.setupFix), reboot (gpumon daemon keeps it there)")
            let now = device.driver.map { "on \($0)" } ?? "unbound"
            return DoctorCheck("driver", subject: address.description, .fail, "\(device.id) is \(now), not \(target)",
                fix: fix)
        }
    }

    func resets() -> [DoctorCheck] {
        guard let topology = snapshot.topology, let selection else { return [] }
        return selection.selectedAddresses.compactMap { address -> DoctorCheck? in
            guard let device = topology[address], device.pciClass.isDisplay,
                let rule = selection.selected[address]?.rule, config.gpus.indices.contains(rule)
            else { return nil }
            let gpu = config.gpus[rule]
            let mode = "reset_after_stop = \(gpu.resetAfterStop.rawValue)"
            guard let methods = device.resetMethods else {
                return DoctorCheck("reset", subject: address.description, .warn,
                    "no reset_method attribute: the kernel has no reset method for this device (or is older "
                        + "than 5.15); gpumon can still remove and rescan it")
            }
            let working = gpu.resetMethods.filter { isUsable($0, device) }.map(\.rawValue)
            let kernel = methods.isEmpty ? "none" : methods.joined(separator: " ")
            if working.isEmpty {
                return DoctorCheck("reset", subject: address.description, .fail,
                    "none of reset_methods (\(gpu.resetMethods.map(\.rawValue).joined(separator: ", "))) works "
                        + "for this device (reset_method: \(kernel))",
                    fix: ["add \"slot\" or \"remove-rescan\" to reset_methods in [[gpu]] #\(rule)"])
            }
            let order = working.joined(separator: ", then ")
            if device.hasFLR {
                let when = gpu.resetAfterStop == .always ? "after every VM stop" : "only when it is found stuck"
                return DoctorCheck("reset", subject: address.description, gpu.resetAfterStop == .never ? .warn : .pass,
                    gpu.resetAfterStop == .never
                        ? "FLR available; \(mode): gpumon never resets it, only reports"
                        : "FLR available; gpumon resets it \(when) (\(mode)): \(order)")
            }
            switch gpu.resetAfterStop {
            case .auto, .always:
                return DoctorCheck("reset", subject: address.description, .pass,
                    "no FLR (reset_method: \(kernel)): after every VM stop gpumon resets it with \(order) "
                        + "(\(mode)), so the next VM gets a clean GPU")
            case .onStuck:
                return DoctorCheck("reset", subject: address.description, .warn,
                    "no FLR (reset_method: \(kernel)) and \(mode): gpumon resets it only once found stuck; the next "
                        + "VM may start on a GPU left dirty", fix: ["set reset_after_stop = \"auto\" in [[gpu]] #\(rule)"])
            case .never:
                return DoctorCheck("reset", subject: address.description, .warn,
                    "no FLR (reset_method: \(kernel)) and \(mode): gpumon only reports a stuck GPU",
                    fix: ["set reset_after_stop = \"auto\" in [[gpu]] #\(rule)"])
            }
        }
    }

    /// Whether a configured reset method can work for the device, from what the kernel offers.
    func isUsable(_ method: ResetMethod, _ device: PCIDevice) -> Bool {
        switch method {
        case .flr: return device.hasFLR
        case .pm, .bus, .deviceSpecific, .acpi: return device.resetMethods?.contains(method.rawValue) ?? false
        case .slot: return device.parentBridge != nil
        case .removeRescan: return true
        }
    }

    func libvirt() -> DoctorCheck {
        let paths = snapshot.existingPaths
        let logs = config.libvirt.logDirs.filter { paths.contains(String($0.drop(while: { $0 == "/" }))) }
        let hooks = ["etc/libvirt/hooks/qemu", "etc/libvirt/hooks/qemu.d"].filter(paths.contains)
        var found: [String] = logs
        found += hooks.map(HostRoot.hostPath)
        if !found.isEmpty {
            var message = "gpumon daemon can see VMs stop through \(found.joined(separator: ", "))"
            if hooks.contains("etc/libvirt/hooks/qemu") {
                message += "; if that qemu hook is the guide's remove/rescan script, retire it once gpumon daemon runs"
            }
            return DoctorCheck("libvirt", .pass, message)
        }
        var fix = ["set [libvirt] log_dirs to the directory where libvirt writes <domain>.log"]
        if paths.contains("etc/kolla") {
            fix.append("Kolla: nova_libvirt writes its domain logs inside the container (/var/log/libvirt/qemu); "
                + "use the host path of that directory (docker inspect nova_libvirt shows the mounts)")
        }
        return DoctorCheck("libvirt", .warn, "none of [libvirt] log_dirs exists ("
            + config.libvirt.logDirs.joined(separator: ", ") + ") and there is no /etc/libvirt/hooks/qemu: "
            + "gpumon daemon cannot see VMs stop", fix: fix)
    }

    /// Domains defined on this host that pass selected functions with `<hostdev managed='yes'>`: libvirt then
    /// binds vfio-pci itself at start and rebinds the host driver at stop, unless the function was already on
    /// vfio-pci at start. With gpumon's daemon running it always is, so this is fine; without it, each stop hands
    /// the GPU back to the host driver. One check per domain, so the operator sees which ones.
    func libvirtManaged() -> [DoctorCheck] {
        guard let selection else { return [] }
        let selected = Set(selection.selectedAddresses)
        var checks: [DoctorCheck] = []
        for (path, text) in snapshot.files(under: HostInspector.libvirtDomainDirectory + "/") {
            // Only the directory's own files (autostart/ holds links to the same definitions).
            guard !path.dropFirst(HostInspector.libvirtDomainDirectory.count + 1).contains("/") else { continue }
            let managed = Self.managedHostdevs(in: text).filter(selected.contains)
            guard !managed.isEmpty else { continue }
            let domain = String(path.split(separator: "/").last?.dropLast(4) ?? "?")
            checks.append(DoctorCheck("libvirt-managed", subject: domain, .pass,
                "domain \(domain) passes \(managed.map(\.description).joined(separator: ", ")) with managed='yes': "
                    + "libvirt binds vfio-pci at start and rebinds the host driver at stop unless the device is already "
                    + "on vfio-pci; gpumon daemon keeps it there, so this works while gpumon runs",
                fix: ["to say so explicitly (and not depend on gpumon running): managed='no' in the domain, or in "
                    + "Nova's [pci] device_spec add \"managed\": \"no\""]))
        }
        return checks
    }

    /// The PCI functions of `<hostdev … managed='yes'>` elements in a domain XML.
    static func managedHostdevs(in xml: String) -> [PCIAddress] {
        var found: [PCIAddress] = []
        for chunk in xml.split(separator: "<hostdev").dropFirst() {
            let tagEnd = chunk.firstIndex(of: ">") ?? chunk.endIndex
            let tag = chunk[..<tagEnd]
            guard tag.contains("managed='yes'") || tag.contains("managed=\"yes\"") else { continue }
            let body = chunk.firstRange(of: "</hostdev>").map { chunk[..<$0.upperBound] } ?? chunk
            found += DomainXMLScanner.pciHostdevAddresses(in: "<hostdev" + body)
        }
        return found
    }

    func service() -> DoctorCheck {
        let paths = snapshot.existingPaths
        if paths.contains("etc/systemd/system/multi-user.target.wants/gpumon.service") {
            return DoctorCheck("service", .pass, "gpumon.service is enabled")
        }
        let units = ["etc/systemd/system/gpumon.service", "lib/systemd/system/gpumon.service",
            "usr/lib/systemd/system/gpumon.service"]
        if let unit = units.first(where: paths.contains) {
            return DoctorCheck("service", .warn, "gpumon.service is installed (\(HostRoot.hostPath(unit))) but not "
                + "enabled", fix: ["systemctl enable --now gpumon"])
        }
        return DoctorCheck("service", .warn, "gpumon.service is not installed: nothing keeps the GPUs on "
            + "\(config.daemon.targetDriver) or resets them after a VM stops",
            fix: ["install gpumon's systemd unit, then systemctl enable --now gpumon"])
    }
}
