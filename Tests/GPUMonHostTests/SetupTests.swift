import GPUMonCore
@testable import GPUMonHost
import GPUMonTestSupport
import HostFS
import Testing

@Suite struct SetupTests {
    static let modprobeAfter = """
        # VFIO for GPU passthrough, written by gpumon setup from the gpumon config.
        # vfio-pci claims these vendor:device IDs at boot; each softdep loads vfio-pci before that host driver.
        options vfio-pci ids=10de:1aef,10de:2204
        softdep nouveau pre: vfio-pci
        softdep nvidia pre: vfio-pci
        softdep nvidia_drm pre: vfio-pci
        softdep snd_hda_intel pre: vfio-pci

        """

    @Test func ubuntu2204DryRunDiffsAreExact() throws {
        let root = try FakeHostRoot(.ubuntu2204)
        let planned = try planSetup(root)
        let plan = planned.plan
        #expect(plan.problems.isEmpty)
        #expect(plan.changes.map(\.path) == [
            "etc/default/grub", "etc/modules", "etc/initramfs-tools/modules", "etc/modprobe.d/vfio.conf",
        ])
        #expect(plan.changes[0].diff == """
            --- a/etc/default/grub
            +++ b/etc/default/grub
            @@ -8,7 +8,7 @@
             GRUB_TIMEOUT=0
             GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
             GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"
            -GRUB_CMDLINE_LINUX=""
            +GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm"
             
             # Uncomment to enable BadRAM filtering, modify to suit your needs
             # This works with Linux (no patch required) and with any kernel that obtains

            """)
        #expect(plan.changes[1].diff == """
            --- a/etc/modules
            +++ b/etc/modules
            @@ -4,3 +4,8 @@
             # at boot time, one per line. Lines beginning with "#" are ignored.
             # Parameters can be specified after the module name.
             
            +# VFIO for GPU passthrough (gpumon setup)
            +vfio
            +vfio_virqfd
            +vfio_iommu_type1
            +vfio_pci

            """)
        #expect(plan.changes[2].diff == """
            --- a/etc/initramfs-tools/modules
            +++ b/etc/initramfs-tools/modules
            @@ -9,3 +9,8 @@
             #
             # raid1
             # sd_mod
            +# VFIO for GPU passthrough (gpumon setup)
            +vfio
            +vfio_virqfd
            +vfio_iommu_type1
            +vfio_pci

            """)
        #expect(plan.changes[3].diff == """
            --- /dev/null
            +++ b/etc/modprobe.d/vfio.conf
            @@ -0,0 +1,7 @@
            +# VFIO for GPU passthrough, written by gpumon setup from the gpumon config.
            +# vfio-pci claims these vendor:device IDs at boot; each softdep loads vfio-pci before that host driver.
            +options vfio-pci ids=10de:1aef,10de:2204
            +softdep nouveau pre: vfio-pci
            +softdep nvidia pre: vfio-pci
            +softdep nvidia_drm pre: vfio-pci
            +softdep snd_hda_intel pre: vfio-pci

            """)
        #expect(plan.commands.map(\.argv) == [["update-grub"], ["update-initramfs", "-u"]])
        #expect(plan.rebootReason != nil)
        // A dry run writes nothing.
        #expect(root.read("etc/modprobe.d/vfio.conf") == nil)
        #expect(root.read("etc/default/grub") == FakeHostRoot.stockGrub(.ubuntu2204))
    }

    @Test func rocky9UEFIApplyWritesExactFilesBacksUpAndIsIdempotent() throws {
        let root = try FakeHostRoot(.rocky9, firmware: .uefi)
        let planned = try planSetup(root)
        let runner = FakeRunner()
        let result = applySetup(root, planned.plan, runner: runner)
        #expect(result.failure == nil)
        // The EFI grub.cfg is RHEL 9's stub: the real config is /boot/grub2/grub.cfg; 9.4 needs the BLS flag.
        #expect(runner.ran == [
            ["grub2-mkconfig", "-o", "/boot/grub2/grub.cfg", "--update-bls-cmdline"], ["dracut", "-f"],
        ])
        #expect(root.read("etc/default/grub") == """
            GRUB_TIMEOUT=5
            GRUB_DISTRIBUTOR="$(sed 's, release .*$,,g' /etc/system-release)"
            GRUB_DEFAULT=saved
            GRUB_DISABLE_SUBMENU=true
            GRUB_TERMINAL_OUTPUT="console"
            GRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap rhgb quiet intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm"
            GRUB_DISABLE_RECOVERY="true"
            GRUB_ENABLE_BLSCFG=true

            """)
        #expect(root.read("etc/modules-load.d/vfio.conf")
            == "# VFIO for GPU passthrough (gpumon setup)\nvfio\nvfio_virqfd\nvfio_iommu_type1\nvfio_pci\n")
        #expect(root.read("etc/dracut.conf.d/gpumon-vfio.conf") == """
            # Written by gpumon setup: put VFIO into the initramfs and load it before the GPU drivers.
            force_drivers+=" vfio vfio_virqfd vfio_iommu_type1 vfio_pci "

            """)
        #expect(root.read("etc/modprobe.d/vfio.conf") == Self.modprobeAfter)
        // Only the file that existed has a backup, holding the old text.
        #expect(result.written.map(\.backup) == ["etc/default/grub.gpumon-bak-20260102030405", nil, nil, nil])
        #expect(root.read("etc/default/grub.gpumon-bak-20260102030405") == FakeHostRoot.stockGrub(.rocky9))

        // Second run: nothing to change, no commands.
        let again = try planSetup(root)
        #expect(again.plan.isEmpty)
        let secondRunner = FakeRunner()
        let second = applySetup(root, again.plan, runner: secondRunner)
        #expect(second.written.isEmpty && secondRunner.ran.isEmpty)
        #expect(root.list("etc/default").filter { $0.contains("gpumon-bak") }.count == 1)
        // Still not rebooted: the running command line lacks the parameters.
        #expect(again.plan.rebootReason?.contains("intel_iommu=on") == true)
    }

    @Test(arguments: [
        (FakeHostRoot.Distro.ubuntu2204, FakeHostRoot.Firmware.uefi, ["update-grub"], ["update-initramfs", "-u"]),
        (.ubuntu2404, .bios, ["update-grub"], ["update-initramfs", "-u"]),
        (.debian12, .uefi, ["update-grub"], ["update-initramfs", "-u"]),
        (.rocky8, .bios, ["grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"], ["dracut", "-f"]),
        (.rocky8, .uefi, ["grub2-mkconfig", "-o", "/boot/efi/EFI/rocky/grub.cfg"], ["dracut", "-f"]),
        (.rocky9, .bios, ["grub2-mkconfig", "-o", "/boot/grub2/grub.cfg", "--update-bls-cmdline"], ["dracut", "-f"]),
    ])
    func everyDistributionAndBootMode(
        distro: FakeHostRoot.Distro, firmware: FakeHostRoot.Firmware, grub: [String], initramfs: [String]
    ) throws {
        let root = try FakeHostRoot(distro, firmware: firmware, cpu: .amd)
        let planned = try planSetup(root)
        #expect(planned.plan.commands.map(\.argv) == [grub, initramfs])
        let tokens = try #require(try GrubDefaults(text: planned.plan.changes[0].new).commandLine())
        #expect(tokens.suffix(3) == ["amd_iommu=on", "iommu=pt", "modprobe.blacklist=nouveau,nvidia,nvidia_drm"])
        // Kernels from 6.2 fold vfio_virqfd into vfio.
        #expect(planned.requirements.modules.contains("vfio_virqfd") == (distro != .ubuntu2404))
        #expect(applySetup(root, planned.plan).failure == nil)
        #expect(try planSetup(root).plan.isEmpty)
        #expect(root.read("etc/modprobe.d/vfio.conf") == Self.modprobeAfter)
    }

    @Test(arguments: [
        // Empty and unquoted.
        ("GRUB_CMDLINE_LINUX=\n",
            "GRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm\"\n"),
        // Existing options with a conflicting IOMMU setting.
        ("GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"console=ttyS0,115200 intel_iommu=off\"\n",
            "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"console=ttyS0,115200 intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm\"\n"),
        // No GRUB_CMDLINE_LINUX at all.
        ("GRUB_DEFAULT=0\n",
            "GRUB_DEFAULT=0\n\n# Added by gpumon setup: IOMMU on and host GPU drivers off, for GPU passthrough.\nGRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm\"\n"),
    ])
    func grubVariants(input: String, expected: String) throws {
        let root = try FakeHostRoot(.debian12, grub: input)
        let planned = try planSetup(root)
        #expect(applySetup(root, planned.plan).failure == nil)
        #expect(root.read("etc/default/grub") == expected)
        #expect(root.read("etc/default/grub.gpumon-bak-20260102030405") == input)
        #expect(try planSetup(root).plan.isEmpty)
    }

    @Test func grubAlreadyPreparedIsLeftAlone() throws {
        let grub = "GRUB_CMDLINE_LINUX=\"quiet iommu=pt intel_iommu=on modprobe.blacklist=nouveau,nvidia,nvidia_drm\"\n"
        let root = try FakeHostRoot(.ubuntu2404, grub: grub)
        let plan = try planSetup(root).plan
        #expect(!plan.changes.contains { $0.path == "etc/default/grub" })
        #expect(!plan.commands.contains { $0.argv == ["update-grub"] })
        #expect(plan.commands.map(\.argv) == [["update-initramfs", "-u"]])
    }

    @Test func theConsoleGPUsIDAndDriverAreLeftAlone() throws {
        // The console is an RTX 3090 on nvidia too: ids= would take it, blacklisting nvidia would blank it.
        let root = try FakeHostRoot(.ubuntu2204, sysfs: try HostFixtures.sharedIDsBootVGAHost())
        let planned = try planSetup(root)
        #expect(planned.requirements.vfioIDs.isEmpty)
        #expect(planned.requirements.blacklistDrivers.isEmpty)
        #expect(planned.plan.notes.contains { $0.hasPrefix("10de:2204 is left out of vfio-pci ids") })
        let grub = try #require(planned.plan.changes.first { $0.path == "etc/default/grub" })
        #expect(try GrubDefaults(text: grub.new).commandLine() == ["intel_iommu=on", "iommu=pt"])
        let modprobe = try #require(planned.plan.changes.first { $0.path == "etc/modprobe.d/vfio.conf" })
        #expect(!modprobe.new.contains("options vfio-pci"))
    }

    @Test func builtInVFIOPutsTheIDsOnTheCommandLine() throws {
        let root = try FakeHostRoot(.ubuntu2204)
        let release = FakeHostRoot.kernelRelease(.ubuntu2204)
        try root.write("kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/vfio_iommu_type1.ko\n"
            + "kernel/drivers/vfio/pci/vfio-pci.ko\n", to: "lib/modules/\(release)/modules.builtin")
        let planned = try planSetup(root)
        #expect(planned.requirements.modules == ["vfio_virqfd"])
        let grub = try #require(planned.plan.changes.first { $0.path == "etc/default/grub" })
        #expect(try GrubDefaults(text: grub.new).commandLine()?.last == "vfio-pci.ids=10de:1aef,10de:2204")
    }

    @Test func aFileChangedAfterPlanningIsNotOverwritten() throws {
        let root = try FakeHostRoot(.debian12)
        let planned = try planSetup(root)
        try root.write("GRUB_CMDLINE_LINUX=\"edited meanwhile\"\n", to: "etc/default/grub")
        let result = applySetup(root, planned.plan)
        guard case .changedSincePlanning? = result.failure else {
            Issue.record("expected changedSincePlanning, got \(String(describing: result.failure))")
            return
        }
        #expect(result.written.isEmpty)
        #expect(root.read("etc/default/grub") == "GRUB_CMDLINE_LINUX=\"edited meanwhile\"\n")
    }

    @Test func aFailingCommandStopsAndIsReported() throws {
        let root = try FakeHostRoot(.debian12)
        let planned = try planSetup(root)
        let runner = FakeRunner(outputs: ["update-grub": CommandOutput(status: 1, stderr: "grub-probe: error: no such disk\n")])
        let result = applySetup(root, planned.plan, runner: runner)
        #expect(runner.ran == [["update-grub"]])
        #expect(result.written.count == 4)
        #expect(result.failure == .commandFailed(command: "update-grub", status: 1,
            output: "grub-probe: error: no such disk\n"))
        #expect(result.failure?.description == "update-grub failed (exit 1): grub-probe: error: no such disk")
    }
}
