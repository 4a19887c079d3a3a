public import GPUMonCore

/// One alert: what happened, to which function, with the drivers involved.
public struct Alert: Sendable, Equatable, Encodable {
    public let kind: AlertKind
    public let address: PCIAddress?
    public let id: PCIID?
    /// The driver before (e.g. vfio-pci when a host driver took the device).
    public let oldDriver: String?
    /// The driver after (e.g. the host driver that grabbed it).
    public let newDriver: String?
    public let message: String
    /// Seconds since the Unix epoch.
    public let time: Double

    public init(
        kind: AlertKind, address: PCIAddress? = nil, id: PCIID? = nil, oldDriver: String? = nil,
        newDriver: String? = nil, message: String, time: Double
    ) {
        self.kind = kind
        self.address = address
        self.id = id
        self.oldDriver = oldDriver
        self.newDriver = newDriver
        self.message = message
        self.time = time
    }

    enum CodingKeys: String, CodingKey {
        case kind, address, message, time
        case id = "ids"
        case oldDriver = "old_driver"
        case newDriver = "new_driver"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(address, forKey: .address)
        try c.encode(id?.description, forKey: .id)
        try c.encode(oldDriver, forKey: .oldDriver)
        try c.encode(newDriver, forKey: .newDriver)
        try c.encode(message, forKey: .message)
        try c.encode(time, forKey: .time)
    }

    /// The environment the `[alerts] command` receives.
    public var environment: [String: String] {
        var env = ["GPUMON_ALERT_KIND": kind.rawValue, "GPUMON_ALERT_MESSAGE": message,
            "GPUMON_ALERT_MESSAGE_ID": kind.messageID, "GPUMON_ALERT_TIME": String(Int64(time))]
        if let address { env["GPUMON_ALERT_ADDRESS"] = address.description }
        if let id { env["GPUMON_ALERT_IDS"] = id.description }
        if let oldDriver { env["GPUMON_ALERT_OLD_DRIVER"] = oldDriver }
        if let newDriver { env["GPUMON_ALERT_NEW_DRIVER"] = newDriver }
        return env
    }
}
