public import HostFS

/// The two trees host preparation reads and writes: the root file system (`/etc`, `/proc`, `/boot`, `/lib`) and
/// the sysfs mount. Production uses `/` and `/sys`; `--root DIR` points both into an image or a test fixture.
public struct HostRoot: Sendable {
    public let files: FileTree
    public let sysfs: FileTree

    public init(files: FileTree, sysfs: FileTree) {
        self.files = files
        self.sysfs = sysfs
    }

    /// Whether this is the running system (`/`): only then are regeneration commands run.
    public var isLiveSystem: Bool { files.root == "/" }

    /// The absolute path of `relative` as the operator knows it on the host (`/etc/default/grub`), whatever
    /// the root: messages and diffs name files the way they are named on the machine being prepared.
    public static func hostPath(_ relative: String) -> String { "/" + relative.drop(while: { $0 == "/" }) }
}
