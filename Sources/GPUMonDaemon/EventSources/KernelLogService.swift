import Dispatch
import GPUMonCore
public import Logging
public import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Reads the kernel log (`/dev/kmsg`) from now on and hands PCI/vfio error lines to the VM-lifecycle side, where
/// they count in the stuck check (`not ready 65535ms after FLR`, `Unable to change power state from D3cold to D0`…).
/// Woken only when the kernel logs something.
public struct KernelLogService: Service {
    let path: String
    let lifecycle: VMLifecycle
    let logger: Logger

    public init(path: String = "/dev/kmsg", lifecycle: VMLifecycle, logger: Logger) {
        self.path = path
        self.lifecycle = lifecycle
        self.logger = logger
    }

    public func run() async throws {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            logger.notice("kernel log not readable (\(String(cString: strerror(errno)))); stuck checks use sysfs and domain logs only",
                metadata: ["path": "\(path)"])
            try? await gracefulShutdown()
            return
        }
        // Only what the kernel logs from now on: old boot messages are not about this stop.
        lseek(fd, 0, SEEK_END)
        // Bounded: a kernel flooding error lines while the lifecycle is busy keeps the newest 256, not all of them.
        let (lines, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(256))
        let queue = DispatchQueue(label: "gpumon.kmsg")
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler {
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                // Each read returns one record: "prio,seq,usec,flags;text".
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EPIPE { continue }  // records were overwritten; go on with the next
                if count <= 0 { return }
                let record = String(decoding: buffer[0..<count], as: UTF8.self)
                guard let semicolon = record.firstIndex(of: ";") else { continue }
                let text = record[record.index(after: semicolon)...].prefix { $0 != "\n" }
                if KernelLogService.isInteresting(text) { continuation.yield(String(text)) }
            }
        }
        source.setCancelHandler { close(fd) }
        source.resume()
        for await line in lines.cancelOnGracefulShutdown() {
            logger.info("kernel: \(line)")
            await lifecycle.kernelLog(line)
        }
        source.cancel()
    }

    /// A line of the shared error table (``PCIErrorPattern/all``): AER, DPC, pciehp, power-state and reset
    /// failures, whatever driver prefixes it (`pcieport`, `vfio-pci`, a host driver).
    static func isInteresting(_ text: Substring) -> Bool {
        PCIErrorPattern.first(in: text) != nil
    }
}
