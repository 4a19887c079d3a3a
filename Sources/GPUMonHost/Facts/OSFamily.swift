/// The two ways the supported distributions do boot configuration: Debian's (`update-grub`, initramfs-tools,
/// `/etc/modules`) and Red Hat's (`grub2-mkconfig`, dracut, `/etc/modules-load.d`).
public enum OSFamily: String, Sendable, Codable {
    /// Debian and Ubuntu.
    case debian
    /// Rocky Linux, RHEL, AlmaLinux.
    case rhel

    /// The file that lists modules to load at boot (read by `systemd-modules-load`).
    public var bootModulesFile: String {
        switch self {
        case .debian: return "etc/modules"
        case .rhel: return "etc/modules-load.d/vfio.conf"
        }
    }

    /// The file that puts modules into the initramfs.
    public var initramfsModulesFile: String {
        switch self {
        case .debian: return "etc/initramfs-tools/modules"
        // A drop-in of gpumon's own, so dracut.conf and other drop-ins stay untouched.
        case .rhel: return "etc/dracut.conf.d/gpumon-vfio.conf"
        }
    }

    /// The command that rebuilds the running kernel's initramfs.
    public var initramfsRebuild: PlannedCommand {
        switch self {
        case .debian:
            return PlannedCommand(["update-initramfs", "-u"], why: "rebuild the initramfs with vfio-pci and its options")
        case .rhel:
            return PlannedCommand(["dracut", "-f"], why: "rebuild the initramfs with vfio-pci and its options")
        }
    }

    /// The tool that lists an initramfs image's files.
    public var initramfsLister: String {
        switch self {
        case .debian: return "lsinitramfs"
        case .rhel: return "lsinitrd"
        }
    }

    /// The running kernel's initramfs image, relative to the root.
    public func initramfsImage(kernelRelease: String) -> String {
        switch self {
        case .debian: return "boot/initrd.img-\(kernelRelease)"
        case .rhel: return "boot/initramfs-\(kernelRelease).img"
        }
    }
}
