internal import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Structured journal entries through `sd_journal_sendv(3)`.
public enum Journal {
    /// Whether stderr is connected to the journal (`$JOURNAL_STREAM` names its device and inode): then structured
    /// entries are better than lines on stderr.
    public static var isConnected: Bool {
        guard let stream = getEnvironment("JOURNAL_STREAM") else { return false }
        return !stream.isEmpty
    }

    /// Sends one entry. `fields` are `NAME=value` pairs; names must be upper-case ASCII, digits and `_`.
    /// `MESSAGE` and `PRIORITY` are expected among them.
    @discardableResult
    public static func send(_ fields: [(String, String)]) -> Bool {
        let items = fields.map { Array("\($0.0)=\($0.1)".utf8) }
        let buffers: [UnsafeMutableRawBufferPointer] = items.map { bytes in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
            buffer.copyBytes(from: bytes)
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        var vectors = zip(buffers, items).map { buffer, bytes in iovec(iov_base: buffer.baseAddress, iov_len: bytes.count) }
        return sd_journal_sendv(&vectors, Int32(vectors.count)) == 0
    }
}

func getEnvironment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
