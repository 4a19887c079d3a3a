/// One line of `gpumon doctor`: what was checked, the verdict, and for anything short of a pass, the fix.
public struct DoctorCheck: Sendable, Equatable, Encodable {
    /// The verdict. `skip` means the check does not apply here (no `/proc/cmdline` in an image, tools not run
    /// under `--root`); it counts as a pass for the exit status.
    public enum Status: String, Sendable, Encodable, Comparable {
        case pass
        case skip
        case warn
        case fail

        private var rank: Int {
            switch self {
            case .pass: return 0
            case .skip: return 1
            case .warn: return 2
            case .fail: return 3
            }
        }

        public static func < (lhs: Status, rhs: Status) -> Bool { lhs.rank < rhs.rank }
    }

    /// A stable name (`cpu`, `iommu`, `vfio-ids`, `driver`…), documented in `docs/cli.md`.
    public var id: String
    /// What the check is about when it repeats per device or group (`0000:01:00.0`, `group 1`); `nil` otherwise.
    public var subject: String?
    public var status: Status
    /// One sentence: what was found.
    public var message: String
    /// Commands or steps that fix it, for the detected distribution and boot mode; empty for a pass.
    public var fix: [String]

    public init(_ id: String, subject: String? = nil, _ status: Status, _ message: String, fix: [String] = []) {
        self.id = id
        self.subject = subject
        self.status = status
        self.message = message
        self.fix = fix
    }

    enum CodingKeys: String, CodingKey { case id, subject, status, message, fix }

    // `subject` is written as null rather than left out: consumers rely on every documented key being present.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(subject, forKey: .subject)
        try c.encode(status, forKey: .status)
        try c.encode(message, forKey: .message)
        try c.encode(fix, forKey: .fix)
    }
}
