public import GPUMonCore

/// A change the enforcer reports: a lifecycle transition (stuck, resetting, quarantined, cleared) or the end of
/// an enforcement pass (drivers may have changed).
public enum DeviceChange: Sendable, Equatable {
    case lifecycle(PCIAddress, from: DeviceState?, to: DeviceState?)
    case enforced

    /// A reset finished and was verified: `resetting` → no lifecycle state (a failed one goes to `stuck`).
    public var verifiedReset: PCIAddress? {
        if case .lifecycle(let address, .resetting?, nil) = self { return address }
        return nil
    }
}

/// Fans the enforcer's changes out to the services that follow them. Publishing never blocks the enforcer:
/// each subscriber has an unbounded buffer (changes are rare: uevents and lifecycle steps).
public final class DeviceChangeFeed: Sendable {
    private let lock = Mutex()
    nonisolated(unsafe) private var subscribers: [AsyncStream<DeviceChange>.Continuation] = []

    public init() {}

    public func subscribe() -> AsyncStream<DeviceChange> {
        let (stream, continuation) = AsyncStream<DeviceChange>.makeStream(bufferingPolicy: .unbounded)
        lock.withLock { subscribers.append(continuation) }
        return stream
    }

    public func publish(_ change: DeviceChange) {
        for subscriber in lock.withLock({ subscribers }) { subscriber.yield(change) }
    }
}
