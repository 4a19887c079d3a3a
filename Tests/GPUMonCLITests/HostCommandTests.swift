import Foundation
import GPUMonCore
import GPUMonTestSupport
import HostFS
import Testing

@Suite struct HostCommandTests {
    let config = "[[gpu]]\nids = [\"10de:2204\"]\n"

    /// A fixture root with the config at its default place, `etc/gpumon/gpumon.toml`.
    func root(_ distro: FakeHostRoot.Distro, firmware: FakeHostRoot.Firmware = .bios) throws -> FakeHostRoot {
        let root = try FakeHostRoot(distro, firmware: firmware, loadedModules: ["vfio", "vfio_iommu_type1", "vfio_pci"])
        try root.write(config, to: "etc/gpumon/gpumon.toml")
        return root
    }

    /// Makes an applied root look rebooted and fully set up.
    func reboot(_ root: FakeHostRoot, service: Bool = true) throws {
        try root.write(FakeHostRoot.stockCmdline(root.distro)
            + " intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm\n", to: "proc/cmdline")
        for address in ["0000:01:00.0", "0000:01:00.1"] { try root.sysfs.bind(try PCIAddress(parsing: address), to: "vfio-pci") }
        try root.tree.createDirectory("var/log/libvirt/qemu")
        if service {
            try root.write("[Unit]\n", to: "etc/systemd/system/gpumon.service")
            try root.tree.createDirectory("etc/systemd/system/multi-user.target.wants")
            try root.tree.createSymlink("etc/systemd/system/multi-user.target.wants/gpumon.service", target: "../gpumon.service")
        }
    }

    @Test func setupDryRunPrintsDiffsAndCommandsAndChangesNothing() throws {
        let root = try root(.debian12)
        let result = try BuiltBinary.run(["setup", "--root", root.tree.root])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.hasPrefix("""
            host: Debian GNU/Linux 12 (bookworm) (debian 12), BIOS boot, Intel CPU, kernel 6.1.0-25-amd64
            root: \(root.tree.root)
            selected: 0000:01:00.0 (10de:2204), 0000:01:00.1 (10de:1aef)

            # change /etc/default/grub: kernel command line: intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm
            --- a/etc/default/grub
            +++ b/etc/default/grub
            @@ -7,7 +7,7 @@
             GRUB_TIMEOUT=5
             GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
             GRUB_CMDLINE_LINUX_DEFAULT="quiet"
            -GRUB_CMDLINE_LINUX=""
            +GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm"

            """))
        #expect(result.stdout.hasSuffix("""

            commands:
              update-grub    # regenerate /boot/grub/grub.cfg from /etc/default/grub
              update-initramfs -u    # rebuild the initramfs with vfio-pci and its options

            dry run: nothing was changed; run gpumon setup --apply to make these changes
            reboot needed: the kernel command line, modules and initramfs take effect at the next boot

            """))
        #expect(root.read("etc/default/grub") == FakeHostRoot.stockGrub(.debian12))
        #expect(root.read("etc/modprobe.d/vfio.conf") == nil)
    }

    @Test func setupApplyThenApplyAgainChangesNothing() throws {
        let root = try root(.rocky8, firmware: .uefi)
        let first = try BuiltBinary.run(["setup", "--root", root.tree.root, "--apply"])
        #expect(first.status == 0, "\(first.stderr)")
        let lines = first.stdout.split(separator: "\n").map(String.init)
        let backup = try #require(lines.first { $0.hasPrefix("wrote /etc/default/grub (backup: /etc/default/grub.gpumon-bak-") })
        #expect(lines.contains("wrote /etc/modprobe.d/vfio.conf (new file)"))
        #expect(lines.contains("not run under --root (run it inside the image, e.g. chroot \(root.tree.root)): "
            + "grub2-mkconfig -o /boot/efi/EFI/rocky/grub.cfg"))
        #expect(lines.last == "reboot needed: the kernel command line, modules and initramfs take effect at the next boot")
        let backupName = String(backup.dropFirst("wrote /etc/default/grub (backup: /".count).dropLast())
        #expect(root.read(backupName) == FakeHostRoot.stockGrub(.rocky8))
        #expect(root.read("etc/default/grub")?.contains("rhgb quiet intel_iommu=on iommu=pt") == true)

        let second = try BuiltBinary.run(["setup", "--root", root.tree.root, "--apply"])
        #expect(second.status == 0)
        #expect(second.stdout.contains("nothing to change: the host is prepared\n"))
        #expect(!second.stdout.contains("wrote ") && !second.stdout.contains("not run under --root"))
        #expect(second.stdout.hasSuffix("reboot needed: the files are prepared but the running kernel was booted "
            + "without intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm\n"))
        #expect(root.list("etc/default").filter { $0.contains(".gpumon-bak-") }.count == 1)
    }

    @Test func doctorOnAFreshRootFailsWithExitTwo() throws {
        let root = try root(.ubuntu2404)
        let result = try BuiltBinary.run(["doctor", "--root", root.tree.root])
        #expect(result.status == 2)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "host: Ubuntu 24.04.1 LTS (ubuntu 24.04), BIOS boot, Intel CPU, kernel 6.8.0-45-generic")
        #expect(lines.contains("fail  grub                 GRUB_CMDLINE_LINUX lacks intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm"))
        #expect(lines.contains("skip  initramfs            not inspected under --root: the host's tools are not run on another root"))
        #expect(lines.last == "16 checks: 6 pass, 2 warn, 7 fail, 1 skipped")
    }

    @Test func doctorJSON() throws {
        let root = try root(.debian12)
        let result = try BuiltBinary.run(["doctor", "--root", root.tree.root, "--json"])
        #expect(result.status == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let host = try #require(object["host"] as? [String: Any])
        #expect(host["os_id"] as? String == "debian" && host["boot_mode"] as? String == "bios")
        #expect(host["cpu_vendor"] as? String == "intel" && host["family"] as? String == "debian")
        let checks = try #require(object["checks"] as? [[String: Any]])
        for check in checks {
            #expect(Set(check.keys) == ["id", "subject", "status", "message", "fix"])
        }
        let driver = try #require(checks.first { $0["id"] as? String == "driver" })
        #expect(driver["subject"] as? String == "0000:01:00.0" && driver["status"] as? String == "fail")
        #expect(checks.first?["subject"] is NSNull)
        let counts = try #require(object["counts"] as? [String: Int])
        #expect(counts["fail"] == checks.filter { $0["status"] as? String == "fail" }.count)
    }

    @Test func doctorAfterSetupAndRebootPassesOrOnlyWarns() throws {
        let root = try root(.ubuntu2204)
        #expect(try BuiltBinary.run(["setup", "--root", root.tree.root, "--apply"]).status == 0)
        try reboot(root, service: false)
        let warned = try BuiltBinary.run(["doctor", "--root", root.tree.root])
        #expect(warned.status == 1, "\(warned.stdout)")
        #expect(warned.stdout.contains("warn  service "))
        try reboot(root)
        let clean = try BuiltBinary.run(["doctor", "--root", root.tree.root])
        #expect(clean.status == 0, "\(clean.stdout)")
        #expect(clean.stdout.hasSuffix("16 checks: 15 pass, 0 warn, 0 fail, 1 skipped\n"))
    }

    @Test func badInputIsOneLineAndExitTwo() throws {
        let unknown = try root(.debian12)
        try unknown.write("NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\n", to: "etc/os-release")
        let noOS = try root(.debian12)
        try noOS.tree.removeFile("etc/os-release")
        let badConfig = try root(.debian12)
        try badConfig.write("[[gpu]]\nids = [\"10de-2204\"]\n", to: "etc/gpumon/gpumon.toml")
        let cases: [([String], String)] = [
            (["doctor", "--root", "/nonexistent"], "gpumon: --root /nonexistent: not an existing directory\n"),
            (["setup", "--root", "relative"], "gpumon: --root must be an absolute path, got \"relative\" (see 'gpumon help')\n"),
            (["setup", "--root", unknown.tree.root], "gpumon: unsupported distribution \"Arch Linux\" (ID=arch): gpumon "
                + "prepares Ubuntu, Debian and Rocky Linux (and RHEL/AlmaLinux)\n"),
            (["doctor", "--root", noOS.tree.root], "gpumon: \(noOS.tree.root)/etc/os-release does not exist: cannot tell "
                + "which distribution this is\n"),
            (["setup", "--root", badConfig.tree.root], "gpumon: \(badConfig.tree.root)/etc/gpumon/gpumon.toml:2: gpu[0].ids[0]: "
                + "invalid PCI ID \"10de-2204\": expected VENDOR:DEVICE as two 4-digit hex numbers, e.g. 10de:2204\n"),
            (["setup", "--dry-run", "--apply"], "gpumon: --dry-run and --apply exclude each other (see 'gpumon help')\n"),
        ]
        for (arguments, expected) in cases {
            let result = try BuiltBinary.run(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr == expected, "\(arguments)")
            #expect(result.stdout.isEmpty, "\(arguments)")
        }
    }
}
