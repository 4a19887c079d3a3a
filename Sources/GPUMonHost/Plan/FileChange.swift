/// One file `setup` creates or rewrites: its old and new text and why.
public struct FileChange: Sendable, Equatable {
    /// The path relative to the root (`etc/default/grub`).
    public var path: String
    /// The current text; `nil` when the file does not exist yet.
    public var old: String?
    public var new: String
    /// What the change is for, in one line.
    public var reason: String

    public init(path: String, old: String?, new: String, reason: String) {
        self.path = path
        self.old = old
        self.new = new
        self.reason = reason
    }

    /// The unified diff, named the way `patch -p1 -d /` expects (`a/etc/…`, `b/etc/…`, `/dev/null`).
    public var diff: String {
        UnifiedDiff.diff(
            old: old ?? "", new: new, oldName: old == nil ? "/dev/null" : "a/\(path)", newName: "b/\(path)")
    }
}
