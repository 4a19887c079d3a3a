/// Everything `gpumon doctor` found. The JSON field names are an interface (`docs/cli.md`).
public struct DoctorReport: Sendable, Encodable {
    /// The host as detected.
    public struct Host: Sendable, Encodable {
        public var os: String
        public var osID: String
        public var osVersion: String
        public var family: String
        public var bootMode: String
        public var cpuVendor: String
        public var kernel: String?

        enum CodingKeys: String, CodingKey {
            case os, family, kernel
            case osID = "os_id"
            case osVersion = "os_version"
            case bootMode = "boot_mode"
            case cpuVendor = "cpu_vendor"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(os, forKey: .os)
            try c.encode(osID, forKey: .osID)
            try c.encode(osVersion, forKey: .osVersion)
            try c.encode(family, forKey: .family)
            try c.encode(bootMode, forKey: .bootMode)
            try c.encode(cpuVendor, forKey: .cpuVendor)
            try c.encode(kernel, forKey: .kernel)
        }
    }

    public var host: Host
    /// One line describing the host, as printed on top of the text output.
    public var summary: String
    public var config: String
    public var checks: [DoctorCheck]

    public init(facts: HostFacts, config: String, checks: [DoctorCheck]) {
        host = Host(
            os: facts.os.prettyName, osID: facts.os.id, osVersion: facts.os.versionID,
            family: facts.os.family.rawValue, bootMode: facts.bootMode.rawValue, cpuVendor: facts.cpu.vendor.rawValue,
            kernel: facts.kernel.release)
        summary = facts.summary
        self.config = config
        self.checks = checks
    }

    /// The worst verdict: what the exit status is made of.
    public var worst: DoctorCheck.Status { checks.map(\.status).max() ?? .pass }

    /// How many checks had `status`.
    public func count(_ status: DoctorCheck.Status) -> Int { checks.filter { $0.status == status }.count }

    enum CodingKeys: String, CodingKey { case host, summary, config, checks, counts }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(host, forKey: .host)
        try c.encode(summary, forKey: .summary)
        try c.encode(config, forKey: .config)
        try c.encode(checks, forKey: .checks)
        let counts: [String: Int] = [
            "pass": count(.pass), "skip": count(.skip), "warn": count(.warn), "fail": count(.fail),
        ]
        try c.encode(counts, forKey: .counts)
    }
}
