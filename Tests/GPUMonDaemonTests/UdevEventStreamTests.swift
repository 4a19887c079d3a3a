import Foundation
@testable import Udev
import Testing

/// A receiver with `queued` events ready and a pipe that stays readable, counting every receive.
final class FakeReceiver: UeventReceiver, @unchecked Sendable {
    private let lock = NSLock()
    private var queued: Int
    private var receives = 0
    private var overflowNext = false
    let pipe = Pipe()

    init(queued: Int) {
        self.queued = queued
        pipe.fileHandleForWriting.write(Data([1]))  // readable for as long as the test runs
    }

    var fileDescriptor: Int32 { pipe.fileHandleForReading.fileDescriptor }
    var receiveCount: Int { lock.withLock { receives } }
    func add(_ count: Int, overflow: Bool = false) { lock.withLock { queued += count; overflowNext = overflow } }

    func receive() throws(UdevError) -> UdevMonitor.Received {
        lock.withLock {
            receives += 1
            if overflowNext {
                overflowNext = false
                return .overflow
            }
            guard queued > 0 else { return .empty }
            queued -= 1
            return .event(Uevent(action: "change", devpath: "/devices/pci0000:00/0000:00:02.0", subsystem: "pci",
                seqnum: UInt64(receives), properties: [:]))
        }
    }
}

/// Defect 7: the stream drained the uevent socket into an unbounded buffer, so a stalled consumer grew memory
/// and `ENOBUFS` (→ `events-lost` → full resync) could never happen. Events are now taken only when asked for.
@Suite struct UdevEventStreamTests {
    @Test func aStalledConsumerLeavesEventsInTheSocket() async throws {
        let receiver = FakeReceiver(queued: 10_000)
        let stream = UdevEventStream(receiver: receiver)
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next() != nil)
        // The consumer stalls. Nothing else may read: the old stream's read source drained all 10,000 here.
        try await Task.sleep(for: .milliseconds(200))
        #expect(receiver.receiveCount == 1, "\(receiver.receiveCount) receives for one event taken")
        // When it comes back, the overflow the socket reported reaches it in order.
        var taken = 1
        while taken < 10_000, try await iterator.next() != nil { taken += 1 }
        receiver.add(0, overflow: true)
        #expect(try await iterator.next() == .overflow)
    }

    @Test func aWaitingConsumerWakesOnNewEventsAndStopsOnCancel() async throws {
        let receiver = FakeReceiver(queued: 0)
        let stream = UdevEventStream(receiver: receiver)
        let task = Task { () -> Int in
            var count = 0
            for try await _ in stream { count += 1 }
            return count
        }
        receiver.add(3)
        task.cancel()
        let count = try await task.value
        #expect(count <= 3, "ends on cancel")
    }
}
