internal import CNetlink
import Dispatch

/// Process exits from the kernel's process-events connector (`NETLINK_CONNECTOR`, `CN_IDX_PROC`) through
/// libnl-3, as an `AsyncSequence` of process IDs. Needs `CAP_NET_ADMIN`.
///
/// It works for any VMM — libvirt's QEMU, Proxmox, plain QEMU, containers — because it watches processes, not
/// logs. A dispatch read source wakes only when the kernel sends events.
public struct ProcExitStream: AsyncSequence, Sendable {
    public enum Element: Sendable, Equatable {
        /// A process (thread-group leader) exited.
        case exited(pid: Int32)
        /// The socket overflowed; exits were lost.
        case overflow
    }

    private let stream: AsyncThrowingStream<Element, any Error>
    private let storage: Storage

    /// Starts listening. Until ``follow(_:)`` says otherwise, no exit passes the socket filter: a host with no VM
    /// running costs nothing.
    public init() throws(ProcEventsError) {
        let storage = try Storage()
        self.storage = storage
        stream = AsyncThrowingStream { continuation in
            storage.start(continuation)
            continuation.onTermination = { _ in storage.stop() }
        }
    }

    public func makeAsyncIterator() -> AsyncThrowingStream<Element, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }

    /// Reports the exits of exactly these processes (a socket filter in the kernel drops every other process and
    /// thread event before it wakes gpumon). More than 100 processes: every exit is reported.
    public func follow(_ pids: Set<Int32>) throws(ProcEventsError) {
        try storage.follow(pids)
    }

    private final class Storage: @unchecked Sendable {
        private let socket: OpaquePointer
        private let queue = DispatchQueue(label: "gpumon.procevents")
        private var source: (any DispatchSourceRead)?

        init() throws(ProcEventsError) {
            guard let socket = nl_socket_alloc() else {
                throw ProcEventsError(operation: "nl_socket_alloc", message: "out of memory")
            }
            self.socket = socket
            nl_socket_disable_seq_check(socket)
            var rc = nl_connect(socket, NETLINK_CONNECTOR)
            if rc < 0 { throw Storage.error("nl_connect(NETLINK_CONNECTOR)", rc) }
            rc = nl_socket_add_membership(socket, Int32(CN_IDX_PROC))
            if rc < 0 { throw Storage.error("nl_socket_add_membership(CN_IDX_PROC)", rc) }
            _ = nl_socket_set_buffer_size(socket, 8 << 20, 0)
            rc = cnetlink_proc_subscribe(socket, 1)
            if rc < 0 { throw Storage.error("subscribe to process events", rc) }
            rc = nl_socket_set_nonblocking(socket)
            if rc < 0 { throw Storage.error("nl_socket_set_nonblocking", rc) }
            try follow([])
        }

        func follow(_ pids: Set<Int32>) throws(ProcEventsError) {
            let list = pids.sorted()
            let rc = cnetlink_filter_exits(socket, list, Int32(list.count))
            if rc < 0 {
                throw ProcEventsError(operation: "setsockopt(SO_ATTACH_FILTER)", message: String(cString: strerror(-rc)))
            }
        }

        deinit {
            _ = cnetlink_proc_subscribe(socket, 0)
            nl_socket_free(socket)
        }

        static func error(_ operation: String, _ code: Int32) -> ProcEventsError {
            ProcEventsError(operation: operation, message: String(cString: nl_geterror(code)))
        }

        func start(_ continuation: AsyncThrowingStream<Element, any Error>.Continuation) {
            queue.sync {
                let source = DispatchSource.makeReadSource(fileDescriptor: nl_socket_get_fd(socket), queue: queue)
                source.setEventHandler { [self] in drain(continuation) }
                self.source = source
                source.resume()
            }
        }

        private func drain(_ continuation: AsyncThrowingStream<Element, any Error>.Continuation) {
            var tgids = [Int32](repeating: 0, count: 64)
            while true {
                var address = sockaddr_nl()
                var buffer: UnsafeMutablePointer<UInt8>?
                let length = nl_recv(socket, &address, &buffer, nil)
                defer { free(buffer) }
                if length == 0 { return }
                if length < 0 {
                    if -length == NLE_AGAIN { return }
                    if -length == NLE_NOMEM || cnetlink_errno() == ENOBUFS {
                        continuation.yield(.overflow)
                        return
                    }
                    continuation.finish(throwing: Storage.error("nl_recv", length))
                    return
                }
                guard let buffer else { return }
                let count = cnetlink_proc_exits(buffer, length, &tgids, Int32(tgids.count))
                if count < 0 {
                    continuation.yield(.overflow)
                    continue
                }
                for index in 0..<Int(count) { continuation.yield(.exited(pid: tgids[index])) }
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
