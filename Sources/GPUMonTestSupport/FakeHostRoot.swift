public import HostFS
import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A root file system in a temporary directory that looks like a freshly installed compute node of one of the
/// supported distributions: its real `os-release`, `/etc/default/grub`, `/etc/modules`, the running kernel's
/// module lists, `/proc/cpuinfo` and `/proc/cmdline`, and a `sys` link to a ``FakeSysfs`` (with the IOMMU and,
/// under UEFI, `firmware/efi`). Pass `tree.root` as `--root`.
public final class FakeHostRoot {
    /// The distributions and releases the fixtures model.
    public enum Distro: String, CaseIterable, Sendable {
        case ubuntu2204 = "ubuntu-22.04"
        case ubuntu2404 = "ubuntu-24.04"
        case debian12 = "debian-12"
        case rocky8 = "rocky-8"
        case rocky9 = "rocky-9"

        public var isRHEL: Bool { self == .rocky8 || self == .rocky9 }
    }

    public enum Firmware: Sendable { case bios, uefi }
    public enum CPU: Sendable { case intel, amd }

    public let distro: Distro
    public let tree: FileTree
    /// The sysfs tree the root's `sys` links to.
    public let sysfs: FakeSysfs

    /// Builds the root.
    ///
    /// - Parameters:
    ///   - grub: the text of `/etc/default/grub`; `nil` for the distribution's stock file.
    ///   - sysfs: the devices; `nil` for ``HostFixtures/rtxHost()``.
    ///   - cmdline: `/proc/cmdline`; `nil` for what the stock GRUB file boots.
    ///   - iommu: whether an IOMMU unit is listed in `/sys/class/iommu`.
    ///   - loadedModules: directories created under `/sys/module`.
    public init(
        _ distro: Distro, firmware: Firmware = .bios, cpu: CPU = .intel, grub: String? = nil,
        sysfs: FakeSysfs? = nil, cmdline: String? = nil, iommu: Bool = true, loadedModules: [String] = []
    ) throws {
        self.distro = distro
        var template = Array("/tmp/gpumon-root-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FSError(operation: "mkdtemp", path: "/tmp", errno: .ioError) }
        tree = FileTree(root: String(cString: made))
        self.sysfs = try sysfs ?? HostFixtures.rtxHost()

        let release = Self.kernelRelease(distro)
        try write(Self.osRelease(distro), to: "etc/os-release")
        try write(grub ?? Self.stockGrub(distro), to: "etc/default/grub")
        try write(Self.cpuinfo(cpu), to: "proc/cpuinfo")
        try write(release + "\n", to: "proc/sys/kernel/osrelease")
        try write((cmdline ?? Self.stockCmdline(distro)) + "\n", to: "proc/cmdline")
        try write(Self.modulesDep(distro), to: "lib/modules/\(release)/modules.dep")
        try write(Self.modulesBuiltin, to: "lib/modules/\(release)/modules.builtin")
        try tree.createDirectory("etc/modprobe.d")
        try tree.createDirectory("etc/modules-load.d")
        if distro.isRHEL {
            try tree.createDirectory("etc/dracut.conf.d")
            try write("", to: "boot/initramfs-\(release).img")
            if firmware == .uefi {
                try write(distro == .rocky9 ? Self.rocky9EFIStub : Self.rocky8EFIConfig, to: "boot/efi/EFI/rocky/grub.cfg")
            }
        } else {
            try write(Self.etcModules, to: "etc/modules")
            try write(Self.initramfsToolsModules, to: "etc/initramfs-tools/modules")
            try write("", to: "boot/initrd.img-\(release)")
        }
        try tree.createSymlink("sys", target: self.sysfs.tree.root)
        if firmware == .uefi { try self.sysfs.tree.createDirectory("firmware/efi/efivars") }
        if iommu { try self.sysfs.tree.createDirectory(cpu == .intel ? "class/iommu/dmar0" : "class/iommu/ivhd0") }
        for module in loadedModules { try self.sysfs.tree.createDirectory("module/\(module)") }
    }

    deinit { removeTree(tree.root) }

    /// Writes a file under the root, creating its directory.
    public func write(_ text: String, to relative: String) throws {
        let parent = relative.split(separator: "/").dropLast().joined(separator: "/")
        if !parent.isEmpty { try tree.createDirectory(parent) }
        try tree.writeFileAtomically(text, to: relative)
    }

    /// The exact text of a file under the root, or `nil` when it does not exist.
    public func read(_ relative: String) -> String? {
        (try? tree.readBytes(relative, maxBytes: 1 << 20))?.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The names in a directory under the root.
    public func list(_ relative: String) -> [String] { (try? tree.list(relative)) ?? [] }

    // MARK: - Distribution files

    public static func kernelRelease(_ distro: Distro) -> String {
        switch distro {
        case .ubuntu2204: return "5.15.0-105-generic"
        case .ubuntu2404: return "6.8.0-45-generic"
        case .debian12: return "6.1.0-25-amd64"
        case .rocky8: return "4.18.0-553.el8_10.x86_64"
        case .rocky9: return "5.14.0-427.13.1.el9_4.x86_64"
        }
    }

    /// The kernel command line the stock GRUB file boots.
    public static func stockCmdline(_ distro: Distro) -> String {
        let release = kernelRelease(distro)
        switch distro {
        case .ubuntu2204, .ubuntu2404:
            return "BOOT_IMAGE=/boot/vmlinuz-\(release) root=UUID=0f4c5a6e-2d1b-4f8e-9c3a-7b6d5e4f3a21 ro quiet splash"
        case .debian12:
            return "BOOT_IMAGE=/boot/vmlinuz-\(release) root=UUID=6a8b2c1d-3e4f-4a5b-8c7d-9e0f1a2b3c4d ro quiet"
        case .rocky8:
            return "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-\(release) root=/dev/mapper/rl-root ro crashkernel=auto "
                + "resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap rhgb quiet"
        case .rocky9:
            return "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-\(release) root=/dev/mapper/rl-root ro "
                + "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root "
                + "rd.lvm.lv=rl/swap rhgb quiet"
        }
    }

    public static func osRelease(_ distro: Distro) -> String {
        switch distro {
        case .ubuntu2204:
            return """
                PRETTY_NAME="Ubuntu 22.04.4 LTS"
                NAME="Ubuntu"
                VERSION_ID="22.04"
                VERSION="22.04.4 LTS (Jammy Jellyfish)"
                VERSION_CODENAME=jammy
                ID=ubuntu
                ID_LIKE=debian
                HOME_URL="https://www.ubuntu.com/"
                SUPPORT_URL="https://help.ubuntu.com/"
                BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
                PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
                UBUNTU_CODENAME=jammy

                """
        case .ubuntu2404:
            return """
                PRETTY_NAME="Ubuntu 24.04.1 LTS"
                NAME="Ubuntu"
                VERSION_ID="24.04"
                VERSION="24.04.1 LTS (Noble Numbat)"
                VERSION_CODENAME=noble
                ID=ubuntu
                ID_LIKE=debian
                HOME_URL="https://www.ubuntu.com/"
                SUPPORT_URL="https://help.ubuntu.com/"
                BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
                PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
                UBUNTU_CODENAME=noble
                LOGO=ubuntu-logo

                """
        case .debian12:
            return """
                PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
                NAME="Debian GNU/Linux"
                VERSION_ID="12"
                VERSION="12 (bookworm)"
                VERSION_CODENAME=bookworm
                ID=debian
                HOME_URL="https://www.debian.org/"
                SUPPORT_URL="https://www.debian.org/support"
                BUG_REPORT_URL="https://bugs.debian.org/"

                """
        case .rocky8:
            return """
                NAME="Rocky Linux"
                VERSION="8.10 (Green Obsidian)"
                ID="rocky"
                ID_LIKE="rhel centos fedora"
                VERSION_ID="8.10"
                PLATFORM_ID="platform:el8"
                PRETTY_NAME="Rocky Linux 8.10 (Green Obsidian)"
                ANSI_COLOR="0;32"
                LOGO="fedora-logo-icon"
                CPE_NAME="cpe:/o:rocky:rocky:8:GA"
                HOME_URL="https://rockylinux.org/"
                BUG_REPORT_URL="https://bugs.rockylinux.org/"
                SUPPORT_END="2029-05-31"
                ROCKY_SUPPORT_PRODUCT="Rocky-Linux-8"
                ROCKY_SUPPORT_PRODUCT_VERSION="8.10"
                REDHAT_SUPPORT_PRODUCT="Rocky Linux"
                REDHAT_SUPPORT_PRODUCT_VERSION="8.10"

                """
        case .rocky9:
            return """
                NAME="Rocky Linux"
                VERSION="9.4 (Blue Onyx)"
                ID="rocky"
                ID_LIKE="rhel centos fedora"
                VERSION_ID="9.4"
                PLATFORM_ID="platform:el9"
                PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
                ANSI_COLOR="0;32"
                LOGO="fedora-logo-icon"
                CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
                HOME_URL="https://rockylinux.org/"
                BUG_REPORT_URL="https://bugs.rockylinux.org/"
                SUPPORT_END="2032-05-31"
                ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
                ROCKY_SUPPORT_PRODUCT_VERSION="9.4"
                REDHAT_SUPPORT_PRODUCT="Rocky Linux"
                REDHAT_SUPPORT_PRODUCT_VERSION="9.4"

                """
        }
    }

    /// `/etc/default/grub` as the installer leaves it.
    public static func stockGrub(_ distro: Distro) -> String {
        switch distro {
        case .ubuntu2204: return ubuntu2204Grub
        case .ubuntu2404: return ubuntu2404Grub
        case .debian12: return debian12Grub
        case .rocky8: return rhelGrub(crashkernel: "crashkernel=auto")
        case .rocky9: return rhelGrub(crashkernel: "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M")
        }
    }

    static let ubuntu2204Grub = """
        # If you change this file, run 'update-grub' afterwards to update
        # /boot/grub/grub.cfg.
        # For full documentation of the options in this file, see:
        #   info -f grub -n 'Simple configuration'

        GRUB_DEFAULT=0
        GRUB_TIMEOUT_STYLE=hidden
        GRUB_TIMEOUT=0
        GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
        GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"
        GRUB_CMDLINE_LINUX=""

        # Uncomment to enable BadRAM filtering, modify to suit your needs
        # This works with Linux (no patch required) and with any kernel that obtains
        # the memory map information from GRUB (GNU Mach, kernel of FreeBSD ...)
        #GRUB_BADRAM="0x01234567,0xfefefefe,0x89abcdef,0xefefefef"

        # Uncomment to disable graphical terminal (grub-pc only)
        #GRUB_TERMINAL=console

        # The resolution used on graphical terminal
        # note that you can use only modes which your graphic card supports via VBE
        # you can see them in real GRUB with the command `vbeinfo'
        #GRUB_GFXMODE=640x480

        # Uncomment if you don't want GRUB to pass "root=UUID=xxx" parameter to Linux
        #GRUB_DISABLE_LINUX_UUID=true

        # Uncomment to disable generation of recovery mode menu entries
        #GRUB_DISABLE_RECOVERY="true"

        # Uncomment to get a beep at grub start
        #GRUB_INIT_TUNE="480 440 1"

        """

    static let ubuntu2404Grub = """
        # If you change this file or any /etc/default/grub.d/*.cfg file,
        # run 'update-grub' afterwards to update /boot/grub/grub.cfg.
        # For full documentation of the options in these files, see:
        #   info -f grub -n 'Simple configuration'

        GRUB_DEFAULT=0
        GRUB_TIMEOUT_STYLE=hidden
        GRUB_TIMEOUT=0
        GRUB_DISTRIBUTOR=`( . /etc/os-release; echo ${NAME:-Ubuntu} ) 2>/dev/null || echo Ubuntu`
        GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"
        GRUB_CMDLINE_LINUX=""

        # If your computer has multiple operating systems installed, then you
        # probably want to run os-prober. However, if your computer is a host
        # for guest OSes installed via LVM or raw disk devices, running
        # os-prober can cause damage to those guest OSes as it mounts them.
        # To enable os-prober, uncomment the following line:
        #GRUB_DISABLE_OS_PROBER=false

        # Uncomment to enable BadRAM filtering, modify to suit your needs
        # This works with Linux (no patch required) and with any kernel that obtains
        # the memory map information from GRUB (GNU Mach, kernel of FreeBSD ...)
        #GRUB_BADRAM="0x01234567,0xfefefefe,0x89abcdef,0xefefefef"

        # Uncomment to disable graphical terminal
        #GRUB_TERMINAL=console

        # The resolution used on graphical terminal
        # note that you can use only modes which your graphic card supports via VBE
        # you can see them in real GRUB with the command `videoinfo'
        #GRUB_GFXMODE=640x480

        # Uncomment if you don't want GRUB to pass "root=UUID=xxx" parameter to Linux
        #GRUB_DISABLE_LINUX_UUID=true

        # Uncomment to disable generation of recovery mode menu entries
        #GRUB_DISABLE_RECOVERY="true"

        # Uncomment to get a beep at grub start
        #GRUB_INIT_TUNE="480 440 1"

        """

    static let debian12Grub = """
        # If you change this file, run 'update-grub' afterwards to update
        # /boot/grub/grub.cfg.
        # For full documentation of the options in this file, see:
        #   info -f grub -n 'Simple configuration'

        GRUB_DEFAULT=0
        GRUB_TIMEOUT=5
        GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
        GRUB_CMDLINE_LINUX_DEFAULT="quiet"
        GRUB_CMDLINE_LINUX=""

        # If your computer has multiple operating systems installed, then you
        # probably want to run os-prober. However, if your computer is a host
        # for guest OSes installed via LVM or raw disk devices, running
        # os-prober can cause damage to those guest OSes as it mounts them.
        # To enable os-prober, uncomment the following line:
        #GRUB_DISABLE_OS_PROBER=false

        # Uncomment to enable BadRAM filtering, modify to suit your needs
        # This works with Linux (no patch required) and with any kernel that obtains
        # the memory map information from GRUB (GNU Mach, kernel of FreeBSD ...)
        #GRUB_BADRAM="0x01234567,0xfefefefe,0x89abcdef,0xefefefef"

        # Uncomment to disable graphical terminal (grub-pc only)
        #GRUB_TERMINAL=console

        # The resolution used on graphical terminal
        # note that you can use only modes which your graphic card supports via VBE
        # you can see them in real GRUB with the command `vbeinfo'
        #GRUB_GFXMODE=640x480

        # Uncomment if you don't want GRUB to pass "root=UUID=xxx" parameter to Linux
        #GRUB_DISABLE_LINUX_UUID=true

        # Uncomment to disable generation of recovery mode menu entries
        #GRUB_DISABLE_RECOVERY="true"

        # Uncomment to get a beep at grub start
        #GRUB_INIT_TUNE="480 440 1"

        """

    static func rhelGrub(crashkernel: String) -> String {
        """
        GRUB_TIMEOUT=5
        GRUB_DISTRIBUTOR="$(sed 's, release .*$,,g' /etc/system-release)"
        GRUB_DEFAULT=saved
        GRUB_DISABLE_SUBMENU=true
        GRUB_TERMINAL_OUTPUT="console"
        GRUB_CMDLINE_LINUX="\(crashkernel) resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap rhgb quiet"
        GRUB_DISABLE_RECOVERY="true"
        GRUB_ENABLE_BLSCFG=true

        """
    }

    /// Rocky 9's `/boot/efi/EFI/rocky/grub.cfg`: a stub that hands over to `/boot/grub2/grub.cfg`.
    static let rocky9EFIStub = """
        search --no-floppy --root-dev-only --fs-uuid --set=dev 3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9
        set prefix=($dev)/grub2
        export $prefix
        configfile $prefix/grub.cfg

        """

    /// The head of Rocky 8's full EFI `grub.cfg`.
    static let rocky8EFIConfig = """
        #
        # DO NOT EDIT THIS FILE
        #
        # It is automatically generated by grub2-mkconfig using templates
        # from /etc/grub.d and settings from /etc/default/grub
        #
        ### BEGIN /etc/grub.d/10_linux ###
        insmod part_gpt
        insmod xfs
        set root='hd0,gpt2'
        insmod blscfg
        blscfg
        ### END /etc/grub.d/10_linux ###

        """

    static let etcModules = """
        # /etc/modules: kernel modules to load at boot time.
        #
        # This file contains the names of kernel modules that should be loaded
        # at boot time, one per line. Lines beginning with "#" are ignored.
        # Parameters can be specified after the module name.


        """

    static let initramfsToolsModules = """
        # List of modules that you want to include in your initramfs.
        # They will be loaded at boot time in the order below.
        #
        # Syntax:  module_name [args ...]
        #
        # You must run update-initramfs(8) to effect this change.
        #
        # Examples:
        #
        # raid1
        # sd_mod

        """

    static func cpuinfo(_ cpu: CPU) -> String {
        switch cpu {
        case .intel:
            return """
                processor\t: 0
                vendor_id\t: GenuineIntel
                cpu family\t: 6
                model\t\t: 85
                model name\t: Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz
                flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc vmx smx est tm2 ssse3 fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm avx2 avx512f
                bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs taa itlb_multihit

                processor\t: 1
                vendor_id\t: GenuineIntel
                flags\t\t: fpu vme de pse tsc vmx

                """
        case .amd:
            return """
                processor\t: 0
                vendor_id\t: AuthenticAMD
                cpu family\t: 25
                model\t\t: 1
                model name\t: AMD EPYC 7543 32-Core Processor
                flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf pni pclmulqdq monitor ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a

                """
        }
    }

    /// The running kernel's `modules.dep`, with the compression each distribution uses; kernels before 6.2 have
    /// `vfio_virqfd` as a module of its own.
    static func modulesDep(_ distro: Distro) -> String {
        let ext: String
        switch distro {
        case .ubuntu2404: ext = ".ko.zst"
        case .rocky8, .rocky9: ext = ".ko.xz"
        case .ubuntu2204, .debian12: ext = ".ko"
        }
        var lines = [
            "kernel/drivers/vfio/vfio\(ext):",
            "kernel/drivers/vfio/vfio_iommu_type1\(ext): kernel/drivers/vfio/vfio\(ext)",
            "kernel/drivers/vfio/pci/vfio-pci-core\(ext): kernel/drivers/vfio/vfio\(ext) kernel/virt/lib/irqbypass\(ext)",
            "kernel/drivers/vfio/pci/vfio-pci\(ext): kernel/drivers/vfio/pci/vfio-pci-core\(ext) kernel/drivers/vfio/vfio\(ext)",
            "kernel/drivers/gpu/drm/nouveau/nouveau\(ext): kernel/drivers/gpu/drm/drm_kms_helper\(ext)",
            "kernel/drivers/gpu/drm/amd/amdgpu/amdgpu\(ext): kernel/drivers/gpu/drm/drm_kms_helper\(ext)",
            "kernel/sound/pci/hda/snd-hda-intel\(ext): kernel/sound/pci/hda/snd-hda-codec\(ext)",
            "kernel/virt/lib/irqbypass\(ext):",
        ]
        if distro != .ubuntu2404 { lines.insert("kernel/drivers/vfio/vfio_virqfd\(ext):", at: 2) }
        return lines.joined(separator: "\n") + "\n"
    }

    static let modulesBuiltin = """
        kernel/drivers/pci/pcie/portdrv.ko
        kernel/drivers/iommu/intel/iommu.ko
        kernel/drivers/iommu/amd/iommu.ko

        """
}
