/// Metadata keys for structured logs. Under systemd each becomes a journald field (`device` → `GPUMON_DEVICE`).
public enum LogKey {
    public static let device = "device"
    public static let ids = "ids"
    public static let event = "event"
    public static let oldDriver = "old_driver"
    public static let newDriver = "new_driver"
    public static let alert = "alert"
    /// The journald `MESSAGE_ID` of an alert kind.
    public static let messageID = "message_id"
    public static let error = "error"
    public static let group = "group"
    public static let step = "step"
}
