/// What the daemon adds to `gpumon status`: its uptime, mode, and the latest events and alerts.
public struct DaemonView: Sendable, Codable, Equatable {
    /// One PCI event as the daemon received it.
    public struct EventRecord: Sendable, Codable, Equatable {
        public let time: Double
        public let action: String
        public let address: String
        public let driver: String?
        public init(time: Double, action: String, address: String, driver: String?) {
            self.time = time
            self.action = action
            self.address = address
            self.driver = driver
        }
    }

    /// One alert, as the daemon raised it.
    public struct AlertRecord: Sendable, Codable, Equatable {
        public let time: Double
        public let kind: String
        public let address: String?
        public let message: String
        public init(time: Double, kind: String, address: String?, message: String) {
            self.time = time
            self.kind = kind
            self.address = address
            self.message = message
        }
    }

    public var pid: Int32
    public var uptimeSeconds: Double
    public var dryRun: Bool
    public var ueventSource: String
    public var eventsSeen: Int
    public var lastEvents: [EventRecord]
    public var lastAlerts: [AlertRecord]
    /// Functions in flapping back-off.
    public var flapping: [String]

    public init(pid: Int32, uptimeSeconds: Double, dryRun: Bool, ueventSource: String, eventsSeen: Int,
        lastEvents: [EventRecord], lastAlerts: [AlertRecord], flapping: [String]) {
        self.pid = pid
        self.uptimeSeconds = uptimeSeconds
        self.dryRun = dryRun
        self.ueventSource = ueventSource
        self.eventsSeen = eventsSeen
        self.lastEvents = lastEvents
        self.lastAlerts = lastAlerts
        self.flapping = flapping
    }

    enum CodingKeys: String, CodingKey {
        case pid, flapping
        case uptimeSeconds = "uptime_seconds"
        case dryRun = "dry_run"
        case ueventSource = "uevent_source"
        case eventsSeen = "events_seen"
        case lastEvents = "last_events"
        case lastAlerts = "last_alerts"
    }
}
