/// The CPU vendor and its hardware virtualization flag, from `/proc/cpuinfo`.
public struct CPUInfo: Sendable, Equatable, Codable {
    /// Whose IOMMU the host has: Intel VT-d (`intel_iommu=`) or AMD-Vi (`amd_iommu=`).
    public enum Vendor: String, Sendable, Codable {
        case intel
        case amd
        case unknown
    }

    public var vendor: Vendor
    /// `vmx` (Intel VT-x) or `svm` (AMD-V) among the first processor's `flags`; `nil` when neither is there
    /// (disabled in firmware, or a guest without nested virtualization).
    public var virtualizationFlag: String?

    public init(vendor: Vendor, virtualizationFlag: String?) {
        self.vendor = vendor
        self.virtualizationFlag = virtualizationFlag
    }

    /// Parses the first processor block of `/proc/cpuinfo`; every core repeats the same vendor and flags.
    public static func parse(_ text: String) -> CPUInfo {
        var vendor = Vendor.unknown
        var flag: String?
        for line in text.split(separator: "\n") {
            if line.trimmingCharacters(in: " \t").isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: " \t")
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            switch key {
            case "vendor_id":
                switch value {
                case "GenuineIntel": vendor = .intel
                case "AuthenticAMD", "HygonGenuine": vendor = .amd
                default: vendor = .unknown
                }
            case "flags":
                let flags = Set(value.split(separator: " ").map(String.init))
                flag = flags.contains("vmx") ? "vmx" : flags.contains("svm") ? "svm" : nil
            default:
                continue
            }
        }
        return CPUInfo(vendor: vendor, virtualizationFlag: flag)
    }

    /// The kernel parameter that turns this vendor's IOMMU on, or `nil` for an unknown vendor.
    public var iommuParameter: String? {
        switch vendor {
        case .intel: return "intel_iommu"
        case .amd: return "amd_iommu"
        case .unknown: return nil
        }
    }
}
