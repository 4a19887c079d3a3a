import Dispatch
import SystemPackage

/// Uevents from a ``UdevMonitor`` as an `AsyncSequence`.
///
/// A dispatch read source on the monitor's socket wakes only when events are queued (no polling); each wake
/// drains the socket. An overflow (`ENOBUFS`) is delivered in-band as ``Element/overflow`` so the consumer can
/// re-enumerate.
public struct UdevEventStream: AsyncSequence, Sendable {
    public enum Element: Sendable, Equatable {
        case event(Uevent)
        /// Events were lost; the consumer must re-read the world.
        case overflow
    }

    private let stream: AsyncThrowingStream<Element, any Error>

    /// Creates the monitor and starts listening immediately: events after this call are not lost.
    public init(source: UdevMonitor.Source, subsystem: String) throws(UdevError) {
        let storage = try Storage(monitor: UdevMonitor(source: source, subsystem: subsystem))
        stream = AsyncThrowingStream { continuation in
            storage.start(continuation)
            continuation.onTermination = { _ in storage.stop() }
        }
    }

    public func makeAsyncIterator() -> AsyncThrowingStream<Element, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }

    /// Owns the monitor and the read source; the monitor is touched only on `queue`.
    private final class Storage: @unchecked Sendable {
        private let monitor: UdevMonitor
        private let queue = DispatchQueue(label: "gpumon.udev")
        private var source: (any DispatchSourceRead)?

        init(monitor: UdevMonitor) throws(UdevError) {
            self.monitor = monitor
        }

        func start(_ continuation: AsyncThrowingStream<Element, any Error>.Continuation) {
            queue.sync {
                let source = DispatchSource.makeReadSource(fileDescriptor: monitor.fileDescriptor, queue: queue)
                source.setEventHandler { [monitor] in
                    while true {
                        do {
                            switch try monitor.receive() {
                            case .event(let event): continuation.yield(.event(event))
                            case .overflow: continuation.yield(.overflow)
                            case .empty: return
                            }
                        } catch {
                            continuation.finish(throwing: error)
                            return
                        }
                    }
                }
                self.source = source
                source.resume()
            }
        }

        func stop() {
            queue.async { [self] in
                source?.cancel()
                source = nil
            }
        }
    }
}
