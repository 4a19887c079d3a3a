import Dispatch

/// Batches of ``InotifyEvent``s as an `AsyncSequence`, read by a dispatch read source on the inotify descriptor.
///
/// The source wakes only when the kernel has queued events (no polling, no timer); each wake drains the queue
/// into one batch. Ending the iteration cancels the source, which closes the descriptor.
struct InotifyEventStream: AsyncSequence, Sendable {
    typealias Element = [InotifyEvent]

    private let stream: AsyncThrowingStream<[InotifyEvent], any Error>

    init(_ inotify: Inotify) {
        let storage = Storage(inotify: inotify)
        stream = AsyncThrowingStream { continuation in
            storage.start(continuation)
            continuation.onTermination = { _ in storage.stop() }
        }
    }

    func makeAsyncIterator() -> AsyncThrowingStream<[InotifyEvent], any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }

    /// Owns the read source; the source is touched only on `queue`.
    private final class Storage: @unchecked Sendable {
        private let inotify: Inotify
        private let queue = DispatchQueue(label: "gpumon.inotify")
        private var source: (any DispatchSourceRead)?

        init(inotify: Inotify) { self.inotify = inotify }

        func start(_ continuation: AsyncThrowingStream<[InotifyEvent], any Error>.Continuation) {
            queue.sync {
                let source = DispatchSource.makeReadSource(fileDescriptor: inotify.fileDescriptor, queue: queue)
                source.setEventHandler { [inotify] in
                    do {
                        let events = try inotify.readEvents()
                        if !events.isEmpty { continuation.yield(events) }
                    } catch {
                        continuation.finish(throwing: error)
                    }
                }
                source.setCancelHandler { [inotify] in inotify.close() }
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
