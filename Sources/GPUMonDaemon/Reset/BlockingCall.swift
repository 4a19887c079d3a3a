import Dispatch
import GPUMonCore

/// Runs a call that may block in the kernel (a sysfs `reset` write waits up to 65 s for a device that is not
/// ready; an `unbind` can hang on a GeForce card) on a dispatch thread, and stops waiting after `timeout`.
///
/// A call that times out keeps its thread until the kernel lets go; the caller moves on and reports it. Each call
/// gets its own serial queue, which targets libdispatch's overcommitting pool: a thread stuck in the kernel does
/// not take a worker from the global pool (limited to the CPU count), so two hung unbinds on a 2-core host do
/// not starve every later write (found by the fault-injection tests).
enum BlockingCall {
    enum Outcome<T: Sendable>: Sendable {
        case finished(T)
        case timedOut
    }

    static func run<T: Sendable>(timeout: Duration, _ body: @escaping @Sendable () -> T) async -> Outcome<T> {
        await withCheckedContinuation { continuation in
            let once = Once()
            DispatchQueue(label: "gpumon.blocking-call").async {
                let value = body()
                if once.claim() { continuation.resume(returning: .finished(value)) }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.seconds) {
                if once.claim() { continuation.resume(returning: .timedOut) }
            }
        }
    }
}

/// Lets exactly one of two racing callers through.
private final class Once: @unchecked Sendable {
    private let lock = Mutex()
    private var taken = false
    func claim() -> Bool {
        lock.withLock {
            if taken { return false }
            taken = true
            return true
        }
    }
}
