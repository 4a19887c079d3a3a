/// Recognises the vfio and PCI error lines worth keeping for the stuck check.
///
/// The specific strings come from QEMU (`hw/vfio/pci.c`, `hw/vfio/common.c`), libvirt and the kernel (which
/// does not write to domain logs, but operators paste kernel lines into the same checks): see
/// `prior-art.md` §3. A general rule catches other vfio failures: the word `vfio` together with an error word.
public enum VFIOErrorMatcher {
    /// Substrings that are errors on their own.
    public static let markers = [
        "vfio_err_notifier_handler",
        "Unable to change power state",
        "Unable to power on device",
        "stuck in D3",
        "Unknown PCI header type",
        "is not viable",
        "error getting device from group",
        "no available reset mechanism",
        "has fallen off the bus",
        "AER: Uncorrected",
    ]

    private static let errorWords = ["error", "fail", "unable", "cannot", "timed out", "giving up"]

    /// Whether `message` (a log line without its timestamp) reports a vfio/PCI problem.
    public static func isError(_ message: Substring) -> Bool {
        if markers.contains(where: { message.contains($0) }) { return true }
        // `not ready 65535ms after FLR; giving up`, `… after bus reset`, `… after resume`.
        if message.contains("not ready"), message.contains("ms after") { return true }
        let lower = message.lowercased()
        return lower.contains("vfio") && errorWords.contains(where: { lower.contains($0) })
    }

    public static func isError(_ message: String) -> Bool { isError(message[...]) }
}
