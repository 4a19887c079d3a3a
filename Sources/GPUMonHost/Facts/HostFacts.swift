/// What host preparation needs to know about the machine: distribution, boot mode, CPU and running kernel.
public struct HostFacts: Sendable, Equatable {
    public var os: HostOS
    public var bootMode: BootMode
    public var cpu: CPUInfo
    public var kernel: KernelModules
    /// Whose IOMMU is active, from the unit names in `/sys/class/iommu` (`dmar0`: Intel VT-d, `ivhd0`: AMD-Vi);
    /// `nil` when none is active yet.
    public var activeIOMMU: CPUInfo.Vendor?

    public init(os: HostOS, bootMode: BootMode, cpu: CPUInfo, kernel: KernelModules, activeIOMMU: CPUInfo.Vendor? = nil) {
        self.os = os
        self.bootMode = bootMode
        self.cpu = cpu
        self.kernel = kernel
        self.activeIOMMU = activeIOMMU
    }

    /// The IOMMU the units in `/sys/class/iommu` belong to, or `nil`.
    public static func iommuVendor(units: [String]) -> CPUInfo.Vendor? {
        if units.contains(where: { $0.hasPrefix("dmar") }) { return .intel }
        if units.contains(where: { $0.hasPrefix("ivhd") }) { return .amd }
        return nil
    }

    /// The kernel parameter that turns the IOMMU on: the active IOMMU's when one is active (the CPU vendor can
    /// differ from the IOMMU's in a VM: the kernel lab emulates an AMD CPU with Intel VT-d), else the CPU's.
    public var iommuParameter: String? {
        switch activeIOMMU ?? cpu.vendor {
        case .intel: return "intel_iommu"
        case .amd: return "amd_iommu"
        case .unknown: return nil
        }
    }

    /// One line for the top of `doctor` and `setup` output:
    /// `Ubuntu 22.04.4 LTS (ubuntu 22.04), UEFI boot, Intel CPU, kernel 5.15.0-105-generic`.
    public var summary: String {
        let cpuName: String
        switch cpu.vendor {
        case .intel: cpuName = "Intel CPU"
        case .amd: cpuName = "AMD CPU"
        case .unknown: cpuName = "unknown CPU vendor"
        }
        return "\(os.prettyName) (\(os.id) \(os.versionID.isEmpty ? "-" : os.versionID)), "
            + "\(bootMode.displayName) boot, \(cpuName), kernel \(kernel.release ?? "unknown")"
    }
}
