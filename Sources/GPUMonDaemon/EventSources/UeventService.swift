public import ServiceLifecycle
public import Udev

/// Feeds PCI uevents to the enforcer, one at a time, until shutdown.
public struct UeventService: Service {
    let stream: UdevEventStream
    let enforcer: Enforcer

    public init(stream: UdevEventStream, enforcer: Enforcer) {
        self.stream = stream
        self.enforcer = enforcer
    }

    public func run() async throws {
        for try await element in stream.cancelOnGracefulShutdown() {
            await enforcer.handle(element)
        }
    }
}
