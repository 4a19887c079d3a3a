/// What host preparation needs to know about the machine: distribution, boot mode, CPU and running kernel.
public struct HostFacts: Sendable, Equatable {
    public var os: HostOS
    public var bootMode: BootMode
    public var cpu: CPUInfo
    public var kernel: KernelModules

    public init(os: HostOS, bootMode: BootMode, cpu: CPUInfo, kernel: KernelModules) {
        self.os = os
        self.bootMode = bootMode
        self.cpu = cpu
        self.kernel = kernel
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
