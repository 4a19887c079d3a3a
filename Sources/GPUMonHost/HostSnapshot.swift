public import GPUMonCore

/// Everything `setup` plans from and `doctor` judges, read once from a ``HostRoot`` by ``HostInspector``.
/// Planning and checking are pure functions of a snapshot, which is what makes them testable without a host.
public struct HostSnapshot: Sendable {
    public var facts: HostFacts
    /// Contents of the files gpumon may edit or must read, by path relative to the root; absent files are
    /// missing from the dictionary. Includes every `etc/modprobe.d/*.conf`, `etc/modules-load.d/*.conf` and
    /// `etc/dracut.conf.d/*.conf`.
    public var files: [String: String]
    /// `/proc/cmdline` as tokens; `nil` when unreadable (an image, not a running system).
    public var runningCommandLine: [String]?
    /// Entries of `/sys/class/iommu` (`dmar0`, `ivhd0`…): one per active IOMMU unit.
    public var iommuUnits: [String]
    /// Entries of `/sys/kernel/iommu_groups`.
    public var iommuGroups: [String]
    /// Modules loaded now (`/sys/module/NAME` or `/proc/modules`), normalised.
    public var loadedModules: Set<String>
    /// The sysfs PCI snapshot; `nil` with the reason when sysfs cannot be read.
    public var topology: PCITopology?
    public var topologyError: String?
    /// Paths (relative to the root) that exist, among those doctor asks about: libvirt hooks and log
    /// directories, systemd unit files and links, `etc/kolla`.
    public var existingPaths: Set<String>
    /// Modification times (seconds) of the initramfs image and the modprobe file, when present.
    public var modificationTimes: [String: Int]
    /// What the initramfs lister printed.
    public var initramfs: InitramfsListing

    public init(
        facts: HostFacts, files: [String: String] = [:], runningCommandLine: [String]? = nil,
        iommuUnits: [String] = [], iommuGroups: [String] = [], loadedModules: Set<String> = [],
        topology: PCITopology? = nil, topologyError: String? = nil, existingPaths: Set<String> = [],
        modificationTimes: [String: Int] = [:], initramfs: InitramfsListing = .skipped("not inspected")
    ) {
        self.facts = facts
        self.files = files
        self.runningCommandLine = runningCommandLine
        self.iommuUnits = iommuUnits
        self.iommuGroups = iommuGroups
        self.loadedModules = loadedModules
        self.topology = topology
        self.topologyError = topologyError
        self.existingPaths = existingPaths
        self.modificationTimes = modificationTimes
        self.initramfs = initramfs
    }

    /// The files in a directory (relative path prefix, e.g. `etc/modprobe.d/`) that are in the snapshot, sorted.
    public func files(under directory: String) -> [(path: String, text: String)] {
        files.filter { $0.key.hasPrefix(directory) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

/// The listing of the running kernel's initramfs (`lsinitramfs` / `lsinitrd`).
public enum InitramfsListing: Sendable, Equatable {
    /// The image's file names, one per line as the tool printed them.
    case listed(image: String, files: [String])
    /// Could not be looked at on this host, and why (tool or image missing): doctor warns.
    case unavailable(String)
    /// Deliberately not looked at (under `--root`, tools are not run): doctor skips the check.
    case skipped(String)
    /// The tool ran and failed.
    case failed(String)
}
