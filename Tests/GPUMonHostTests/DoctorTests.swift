import GPUMonCore
@testable import GPUMonHost
import GPUMonTestSupport
import HostFS
import Testing

@Suite struct DoctorTests {
    func doctor(_ root: FakeHostRoot, config: Config? = nil, runner: (any CommandRunner)? = nil) throws -> [DoctorCheck] {
        let planned = try planSetup(root, config: config, runner: runner)
        return HostDoctor(snapshot: planned.snapshot, config: try config ?? rtxConfig()).run()
    }

    func check(_ checks: [DoctorCheck], _ id: String, _ subject: String? = nil) throws -> DoctorCheck {
        try #require(checks.first { $0.id == id && (subject == nil || $0.subject == subject) })
    }

    /// Applies setup, then makes the root look rebooted: parameters on the command line, modules loaded, the
    /// GPU on vfio-pci, libvirt logs and the service present.
    func preparedAndRebooted(_ distro: FakeHostRoot.Distro, firmware: FakeHostRoot.Firmware = .bios) throws -> FakeHostRoot {
        let root = try FakeHostRoot(distro, firmware: firmware, loadedModules: ["vfio", "vfio_iommu_type1", "vfio_pci"])
        let planned = try planSetup(root)
        #expect(applySetup(root, planned.plan).failure == nil)
        // The fake runner only records `dracut -f` / `update-initramfs -u`: rebuild the image here, as they would,
        // so it is not older than the vfio.conf setup just wrote (mtimes are whole seconds: without this the check
        // failed whenever the root was made and the conf written on two sides of a second boundary).
        let release = root.read("proc/sys/kernel/osrelease")?.split(separator: "\n").first.map(String.init) ?? ""
        for image in ["boot/initramfs-\(release).img", "boot/initrd.img-\(release)"] where root.read(image) != nil {
            try root.write("", to: image)
        }
        try root.write(FakeHostRoot.stockCmdline(distro) + " intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm\n",
            to: "proc/cmdline")
        for address in ["0000:01:00.0", "0000:01:00.1"] { try root.sysfs.bind(try PCIAddress(parsing: address), to: "vfio-pci") }
        try root.tree.createDirectory("var/log/libvirt/qemu")
        try root.write("[Unit]\n", to: "etc/systemd/system/gpumon.service")
        try root.tree.createDirectory("etc/systemd/system/multi-user.target.wants")
        try root.tree.createSymlink("etc/systemd/system/multi-user.target.wants/gpumon.service", target: "../gpumon.service")
        return root
    }

    static let listing = FakeRunner(installed: ["lsinitramfs", "lsinitrd"], outputs: [
        "lsinitramfs": CommandOutput(status: 0, stdout: """
            etc/modprobe.d/vfio.conf
            usr/lib/modules/5.15.0-105-generic/kernel/drivers/vfio/pci/vfio-pci.ko
            usr/lib/modules/5.15.0-105-generic/kernel/drivers/vfio/vfio.ko

            """),
        "lsinitrd": CommandOutput(status: 0, stdout: """
            -rw-r--r--   1 root     root          112 Jan  2 03:04 etc/modprobe.d/vfio.conf
            -rw-r--r--   1 root     root        41232 Jan  2 03:04 usr/lib/modules/5.14.0-427.13.1.el9_4.x86_64/kernel/drivers/vfio/pci/vfio-pci.ko.xz

            """),
    ])

    @Test func aFreshUbuntuHostFailsWithFixesForUbuntu() throws {
        let checks = try doctor(try FakeHostRoot(.ubuntu2204))
        let verdicts = checks.map { "\($0.id)\($0.subject.map { " " + $0 } ?? ""): \($0.status.rawValue)" }
        #expect(verdicts == [
            "cpu: pass", "iommu: pass", "grub: fail", "cmdline: fail", "vfio-loaded: fail", "vfio-boot: fail",
            "vfio-ids: fail", "host-drivers: fail", "initramfs: skip", "selection: pass", "iommu-group group 1: pass",
            "driver 0000:01:00.0: fail", "driver 0000:01:00.1: fail", "reset 0000:01:00.0: pass", "libvirt: warn",
            "service: warn",
        ])
        let grub = try check(checks, "grub")
        #expect(grub.message == "GRUB_CMDLINE_LINUX lacks intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm")
        #expect(grub.fix.last == "by hand: add intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm to "
            + "GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub, reboot")
        #expect(try check(checks, "vfio-ids").fix.last
            == "by hand: options vfio-pci ids=10de:1aef,10de:2204 in /etc/modprobe.d/vfio.conf, then update-initramfs -u, reboot")
        #expect(try check(checks, "driver", "0000:01:00.0").fix == [
            "echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/unbind",
            "echo vfio-pci > /sys/bus/pci/devices/0000:01:00.0/driver_override",
            "echo 0000:01:00.0 > /sys/bus/pci/drivers_probe",
            "for good: gpumon setup --apply, reboot (gpumon daemon keeps it there)",
        ])
        #expect(try check(checks, "reset", "0000:01:00.0").message == "no FLR (reset_method: bus): after every VM stop "
            + "gpumon resets it with bus, then slot, then remove-rescan (reset_after_stop = auto), so the next VM gets a clean GPU")
        #expect(try check(checks, "iommu-group").message == "viable: 0000:01:00.0, 0000:01:00.1")
    }

    @Test func rockyFixesNameRockyCommands() throws {
        let checks = try doctor(try FakeHostRoot(.rocky9, firmware: .uefi))
        #expect(try check(checks, "grub").fix.last?.contains("run grub2-mkconfig -o /boot/grub2/grub.cfg --update-bls-cmdline, reboot") == true)
        #expect(try check(checks, "host-drivers").fix.last?.hasSuffix("in /etc/modprobe.d/vfio.conf, then dracut -f") == true)
        #expect(try check(checks, "vfio-boot").fix.last
            == "by hand: add vfio vfio_virqfd vfio_iommu_type1 vfio_pci to /etc/modules-load.d/vfio.conf, one per line")
    }

    @Test(arguments: [FakeHostRoot.Distro.ubuntu2204, .rocky9])
    func aPreparedAndRebootedHostPassesEverything(distro: FakeHostRoot.Distro) throws {
        let root = try preparedAndRebooted(distro)
        let checks = try doctor(root, runner: Self.listing)
        let notPassing = checks.filter { $0.status != .pass }.map { "\($0.id): \($0.message)" }
        #expect(notPassing.isEmpty)
        #expect(try check(checks, "initramfs").message.hasSuffix("has vfio-pci and /etc/modprobe.d/vfio.conf"))
    }

    @Test func rebootPendingIsAWarning() throws {
        let root = try FakeHostRoot(.debian12)
        #expect(applySetup(root, try planSetup(root).plan).failure == nil)
        let checks = try doctor(root)
        #expect(try check(checks, "grub").status == .pass)
        let cmdline = try check(checks, "cmdline")
        #expect(cmdline.status == .warn)
        #expect(cmdline.message == "the running kernel lacks intel_iommu=on iommu=pt "
            + "modprobe.blacklist=nouveau,nvidia,nvidia_drm; /etc/default/grub has it: reboot pending")
    }

    @Test func noVirtualizationAndNoIOMMUFail() throws {
        let root = try FakeHostRoot(.ubuntu2404, cpu: .amd, iommu: false)
        try root.write("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse\n", to: "proc/cpuinfo")
        let checks = try doctor(root)
        let cpu = try check(checks, "cpu")
        #expect(cpu.status == .fail)
        #expect(cpu.fix == ["enable AMD-V and AMD-Vi (IOMMU) in the firmware setup, then reboot"])
        let iommu = try check(checks, "iommu")
        #expect(iommu.status == .fail && iommu.message == "no IOMMU is active: /sys/class/iommu is empty")
    }

    @Test func extraIDsWarnAndInitramfsProblemsAreReported() throws {
        let root = try preparedAndRebooted(.ubuntu2204)
        try root.write("options vfio-pci ids=10de:1aef,10de:2204,10de:1b80\n", to: "etc/modprobe.d/vfio.conf")
        let checks = try doctor(root, runner: FakeRunner(installed: ["lsinitramfs"], outputs: [
            "lsinitramfs": CommandOutput(status: 0, stdout: "usr/lib/modules/x/kernel/drivers/vfio/vfio.ko\n"),
        ]))
        let ids = try check(checks, "vfio-ids")
        #expect(ids.status == .warn)
        #expect(ids.message == "/etc/modprobe.d/vfio.conf also claims 10de:1b80, which the config does not select")
        let initramfs = try check(checks, "initramfs")
        #expect(initramfs.status == .fail)
        #expect(initramfs.message == "/boot/initrd.img-5.15.0-105-generic lacks vfio-pci.ko and etc/modprobe.d/vfio.conf")
        let missingTool = try doctor(root, runner: FakeRunner())
        #expect(try check(missingTool, "initramfs").status == .warn)
    }

    @Test func anInitramfsOlderThanTheModprobeFileIsStale() throws {
        let root = try preparedAndRebooted(.ubuntu2204)
        var planned = try planSetup(root, runner: Self.listing)
        let image = "boot/initrd.img-" + FakeHostRoot.kernelRelease(.ubuntu2204)
        planned.snapshot.modificationTimes[image] = 1000
        planned.snapshot.modificationTimes["etc/modprobe.d/vfio.conf"] = 2000
        let checks = HostDoctor(snapshot: planned.snapshot, config: try rtxConfig()).run()
        let initramfs = try check(checks, "initramfs")
        #expect(initramfs.status == .warn && initramfs.fix == ["update-initramfs -u", "reboot"])
    }

    @Test func aSharedGroupIsNotViable() throws {
        let sys = try HostFixtures.rtxHost()
        try sys.add(.init("0000:00:1f.3", id: "8086:a348", class: 0x040300, driver: "snd_hda_intel", group: 1))
        let checks = try doctor(try FakeHostRoot(.debian12, sysfs: sys))
        let group = try check(checks, "iommu-group", "group 1")
        #expect(group.status == .fail)
        #expect(group.message == "not viable: 0000:00:1f.3 (snd_hda_intel) share the group, are not selected and are on a host driver")
    }

    @Test func resetPolicyAndFLR() throws {
        let never = try ConfigLoader.parse("[[gpu]]\nids = [\"10de:2204\"]\nreset_after_stop = \"never\"\n", file: "t.toml")
        let reset = try check(try doctor(try FakeHostRoot(.debian12), config: never), "reset")
        #expect(reset.status == .warn)
        let onlyFLR = try ConfigLoader.parse("[[gpu]]\nids = [\"10de:2204\"]\nreset_methods = [\"flr\"]\n", file: "t.toml")
        #expect(try check(try doctor(try FakeHostRoot(.debian12), config: onlyFLR), "reset").status == .fail)
        let a100 = try ConfigLoader.parse("[[gpu]]\nids = [\"10de:20b5\"]\n", file: "t.toml")
        let flr = try check(try doctor(try FakeHostRoot(.rocky9, sysfs: try HostFixtures.datacenterHost()), config: a100), "reset")
        #expect(flr.status == .pass)
        #expect(flr.message == "FLR available; gpumon resets it only when it is found stuck (reset_after_stop = auto): "
            + "flr, then bus, then slot, then remove-rescan")
    }

    @Test func serviceAndLibvirt() throws {
        let root = try FakeHostRoot(.ubuntu2204)
        try root.tree.createDirectory("etc/kolla")
        try root.write("[Unit]\n", to: "lib/systemd/system/gpumon.service")
        let checks = try doctor(root)
        let service = try check(checks, "service")
        #expect(service.status == .warn && service.fix == ["systemctl enable --now gpumon"])
        let libvirt = try check(checks, "libvirt")
        #expect(libvirt.status == .warn && libvirt.fix.count == 2 && libvirt.fix[1].hasPrefix("Kolla:"))
        try root.write("#!/bin/sh\n", to: "etc/libvirt/hooks/qemu")
        #expect(try check(try doctor(root), "libvirt").status == .pass)
    }

    @Test func domainsPassingSelectedGPUsWithManagedYesAreListedWithTheChoice() throws {
        let root = try FakeHostRoot(.ubuntu2204)
        func hostdev(_ managed: String, _ function: Int) -> String {
            "<hostdev mode='subsystem' type='pci' managed='\(managed)'><driver name='vfio'/><source>"
                + "<address domain='0x0000' bus='0x01' slot='0x00' function='0x\(function)'/></source></hostdev>"
        }
        try root.write("<domain type='kvm'><name>instance-0000002a</name><devices>\(hostdev("yes", 0))\(hostdev("yes", 1))"
            + "</devices></domain>\n", to: "etc/libvirt/qemu/instance-0000002a.xml")
        try root.write("<domain type='kvm'><name>instance-0000002b</name><devices>\(hostdev("no", 0))</devices></domain>\n",
            to: "etc/libvirt/qemu/instance-0000002b.xml")
        let checks = try doctor(root)
        let managed = checks.filter { $0.id == "libvirt-managed" }
        #expect(managed.map(\.subject) == ["instance-0000002a"], "managed='no' is not listed")
        #expect(managed.first?.message.hasPrefix("domain instance-0000002a passes 0000:01:00.0, 0000:01:00.1 with managed='yes'") == true)
        #expect(managed.first?.fix.first?.contains("\"managed\": \"no\"") == true)
    }

    @Test func nothingSelectedFails() throws {
        let other = try ConfigLoader.parse("[[gpu]]\naddresses = [\"0000:81:00.0\"]\n", file: "t.toml")
        let selection = try check(try doctor(try FakeHostRoot(.debian12), config: other), "selection")
        #expect(selection.status == .fail)
    }
}
