public import GPUMonCore

/// Which host drivers would claim a selected function, and how to keep them off it.
///
/// Every such driver gets `softdep DRIVER pre: vfio-pci`, so vfio-pci is loaded (and claims its IDs) first. GPU
/// drivers are also put on `modprobe.blacklist=`, as the operators' guide does, unless the host itself still
/// uses the driver for a device gpumon does not select (a console GPU of the same vendor): blacklisting would
/// take the console away. Audio, USB and serial-bus drivers are never blacklisted; the host needs them.
public enum HostDriverPolicy {
    /// The drivers for one function.
    public struct Drivers: Sendable, Equatable {
        /// Drivers that get a softdep.
        public var softdep: [String]
        /// Drivers that may also be blacklisted.
        public var blacklist: [String]
    }

    /// The host drivers that could claim `device`, by vendor and class.
    public static func drivers(for device: PCIDevice) -> Drivers {
        drivers(vendor: device.id.vendor, pciClass: device.pciClass)
    }

    /// The host drivers that could claim a function of `vendor` and `pciClass`.
    public static func drivers(vendor: UInt16, pciClass: PCIClass) -> Drivers {
        switch (vendor, pciClass.baseClass, pciClass.subclass) {
        case (0x10de, 0x03, _):
            return Drivers(softdep: ["nouveau", "nvidia", "nvidia_drm"], blacklist: ["nouveau", "nvidia", "nvidia_drm"])
        case (0x1002, 0x03, _):
            return Drivers(softdep: ["amdgpu", "radeon"], blacklist: ["amdgpu", "radeon"])
        case (0x8086, 0x03, _):
            return Drivers(softdep: ["i915"], blacklist: [])
        case (_, 0x04, 0x03):
            return Drivers(softdep: ["snd_hda_intel"], blacklist: [])
        case (_, 0x0c, 0x03):
            return Drivers(softdep: ["xhci_pci"], blacklist: [])
        case (0x10de, 0x0c, 0x80):
            return Drivers(softdep: ["i2c_nvidia_gpu"], blacklist: [])
        default:
            return Drivers(softdep: [], blacklist: [])
        }
    }

    /// The GPU drivers the guide blacklists when nothing else is known: NVIDIA's.
    public static let guideBlacklist = ["nouveau", "nvidia", "nvidia_drm"]
}
