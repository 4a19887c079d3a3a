#if canImport(Glibc)
import Glibc
#endif

/// The name Nova's libvirt driver gives this host: the compute node's `hypervisor_hostname` and the prefix of every
/// PCI provider name. Nova takes it from libvirt's `virConnectGetHostname`, i.e. libvirt's `virGetHostname()`:
/// `gethostname(2)`; if that already contains a dot or starts with "localhost", as is; otherwise the canonical
/// name `getaddrinfo(AI_CANONNAME)` gives, unless that fails or starts with "localhost".
///
/// Not file access, so not behind HostFS: two libc calls that only name the host.
public enum HypervisorHostname {
    public static func resolve(configured: String?) -> String? {
        if let configured { return configured }
        return libvirtStyle()
    }

    public static func libvirtStyle() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard !name.isEmpty else { return nil }
        return canonical(name, lookup: canonicalName)
    }

    /// libvirt's choice, given the short name and a canonical-name lookup (pure, for tests).
    public static func canonical(_ name: String, lookup: (String) -> String?) -> String {
        if name.hasPrefix("localhost") || name.contains(".") { return name }
        guard let canonical = lookup(name), !canonical.isEmpty, !canonical.hasPrefix("localhost") else { return name }
        return canonical
    }

    static func canonicalName(_ name: String) -> String? {
        var hints = addrinfo()
        hints.ai_flags = AI_CANONNAME
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let result else { return nil }
        defer { freeaddrinfo(result) }
        guard let canonical = result.pointee.ai_canonname else { return nil }
        return String(cString: canonical)
    }
}
