import Dispatch

/// What ``UdevEventStream`` receives from: a ``UdevMonitor``, or a stand-in in tests.
protocol UeventReceiver: AnyObject {
    /// Readable when something is queued.
    var fileDescriptor: Int32 { get }
    /// One queued event, without blocking.
    func receive() throws(UdevError) -> UdevMonitor.Received
}

extension UdevMonitor: UeventReceiver {}

/// Uevents from a ``UdevMonitor`` as an `AsyncSequence`, pulled: an event is taken from the socket only when the
/// consumer asks for the next one.
///
/// The kernel's socket buffer is the only buffer. A consumer that falls behind (an enforcer busy with a slow
/// sysfs write during a burst) leaves events in the socket; when it overflows the kernel drops them and the next
/// receive reports `ENOBUFS`, delivered in-band as ``Element/overflow`` so the consumer raises `events-lost` and
/// re-reads the world. Draining the socket into an unbounded in-process buffer instead made the overflow
/// impossible and grew memory without limit. While the consumer waits for events, a dispatch read source wakes it
/// when the socket becomes readable (no polling).
public struct UdevEventStream: AsyncSequence, Sendable {
    public enum Element: Sendable, Equatable {
        case event(Uevent)
        /// Events were lost; the consumer must re-read the world.
        case overflow
    }

    private let storage: Storage

    /// Creates the monitor and starts listening immediately: events after this call are queued in the socket.
    public init(source: UdevMonitor.Source, subsystem: String) throws(UdevError) {
        storage = Storage(receiver: try UdevMonitor(source: source, subsystem: subsystem))
    }

    /// A stream over any receiver (tests).
    init(receiver: some UeventReceiver) {
        storage = Storage(receiver: receiver)
    }

    public func makeAsyncIterator() -> Iterator { Iterator(storage: storage) }

    public struct Iterator: AsyncIteratorProtocol {
        fileprivate let storage: Storage

        public mutating func next() async throws -> Element? { try await storage.next() }
    }

    /// Owns the receiver and the read source; both are touched only on `queue`.
    fileprivate final class Storage: @unchecked Sendable {
        private let receiver: any UeventReceiver
        private let queue = DispatchQueue(label: "gpumon.udev")
        private let source: any DispatchSourceRead
        // On `queue` only.
        private var armed = false
        private var waiting: CheckedContinuation<Void, Never>?
        private var cancelled = false

        init(receiver: any UeventReceiver) {
            self.receiver = receiver
            source = DispatchSource.makeReadSource(fileDescriptor: receiver.fileDescriptor, queue: queue)
            // Created suspended; resumed only while a consumer waits, suspended again at the first wake.
            source.setEventHandler { [weak self] in self?.readable() }
        }

        deinit {
            // A suspended source must be resumed before it is released.
            if !armed { source.resume() }
            source.cancel()
        }

        private func readable() {
            if armed {
                armed = false
                source.suspend()
            }
            waiting?.resume()
            waiting = nil
        }

        func next() async throws -> Element? {
            while true {
                if Task.isCancelled { return nil }
                let received: Result<UdevMonitor.Received, UdevError> = queue.sync {
                    do throws(UdevError) {
                        return .success(try receiver.receive())
                    } catch {
                        return .failure(error)
                    }
                }
                switch received {
                case .success(.event(let event)): return .event(event)
                case .success(.overflow): return .overflow
                case .success(.empty): await waitReadable()
                case .failure(let error): throw error
                }
            }
        }

        private func waitReadable() async {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    queue.async { [self] in
                        if cancelled {
                            continuation.resume()
                            return
                        }
                        waiting = continuation
                        if !armed {
                            armed = true
                            source.resume()
                        }
                    }
                }
            } onCancel: {
                queue.async { [self] in
                    cancelled = true
                    waiting?.resume()
                    waiting = nil
                }
            }
        }
    }
}
