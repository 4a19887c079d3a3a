internal import CUdev
import SystemPackage

/// A libudev monitor filtered to one subsystem.
///
/// The corresponding C type is `struct udev_monitor`. The handle is not thread-safe: one owner receives from it
/// (``UdevEventStream`` does so on one serial queue).
public final class UdevMonitor {
    /// Which netlink group to listen to.
    public enum Source: String, Sendable, CaseIterable {
        /// Events after systemd-udevd processed them (rules applied). Needs udevd running.
        case udev
        /// Raw kernel events, as soon as the kernel sends them; works without udevd (containers, early boot).
        case kernel
    }

    /// What one receive produced.
    public enum Received {
        case event(Uevent)
        /// Nothing queued right now.
        case empty
        /// The socket's receive buffer overflowed (`ENOBUFS`): events were lost.
        case overflow
    }

    private let udev: OpaquePointer
    private let monitor: OpaquePointer
    /// Whether the requested receive buffer size was applied.
    public private(set) var receiveBufferSet = false

    /// Creates and enables a monitor.
    ///
    /// - Parameters:
    ///   - source: the netlink group.
    ///   - subsystem: only events of this subsystem are delivered (a BPF filter in the socket).
    ///   - receiveBufferSize: bytes; a generous buffer absorbs bursts (needs `CAP_NET_ADMIN` past the default).
    public init(source: Source, subsystem: String, receiveBufferSize: Int32 = 128 << 20) throws(UdevError) {
        guard let udev = udev_new() else {
            throw UdevError(operation: "udev_new", errno: Errno(rawValue: cudev_errno()))
        }
        guard let monitor = udev_monitor_new_from_netlink(udev, source.rawValue) else {
            let errno = Errno(rawValue: cudev_errno())
            udev_unref(udev)
            throw UdevError(operation: "udev_monitor_new_from_netlink(\(source.rawValue))", errno: errno)
        }
        self.udev = udev
        self.monitor = monitor
        // From here on `self` is complete, so a throw runs deinit and releases both handles.
        var rc = udev_monitor_filter_add_match_subsystem_devtype(monitor, subsystem, nil)
        if rc < 0 { throw UdevError(operation: "udev_monitor_filter_add_match_subsystem_devtype", errno: Errno(rawValue: -rc)) }
        // Raising the buffer past rmem_max needs CAP_NET_ADMIN; without it the default buffer still works, and an
        // overflow is detected and answered with a full re-read.
        receiveBufferSet = udev_monitor_set_receive_buffer_size(monitor, receiveBufferSize) >= 0
        rc = udev_monitor_enable_receiving(monitor)
        if rc < 0 { throw UdevError(operation: "udev_monitor_enable_receiving", errno: Errno(rawValue: -rc)) }
    }

    deinit {
        udev_monitor_unref(monitor)
        udev_unref(udev)
    }

    /// The monitor's socket; readable when events are queued. Non-blocking.
    public var fileDescriptor: Int32 { udev_monitor_get_fd(monitor) }

    /// Receives one queued event without blocking.
    ///
    /// The corresponding C function is `udev_monitor_receive_device`.
    public func receive() throws(UdevError) -> Received {
        cudev_clear_errno()
        guard let device = udev_monitor_receive_device(monitor) else {
            let errno = Errno(rawValue: cudev_errno())
            switch errno {
            case .noBufferSpace: return .overflow
            case .resourceTemporarilyUnavailable, .interrupted, Errno(rawValue: 0): return .empty
            default: throw UdevError(operation: "udev_monitor_receive_device", errno: errno)
            }
        }
        defer { udev_device_unref(device) }
        var properties: [String: String] = [:]
        var entry = udev_device_get_properties_list_entry(device)
        while let current = entry {
            if let name = udev_list_entry_get_name(current) {
                let value = udev_list_entry_get_value(current).map { String(cString: $0) } ?? ""
                properties[String(cString: name)] = value
            }
            entry = udev_list_entry_get_next(current)
        }
        let action = udev_device_get_action(device).map { String(cString: $0) } ?? properties["ACTION"] ?? ""
        let devpath = udev_device_get_devpath(device).map { String(cString: $0) } ?? properties["DEVPATH"] ?? ""
        let subsystem = udev_device_get_subsystem(device).map { String(cString: $0) }
        let seqnum = udev_device_get_seqnum(device)
        return .event(Uevent(action: action, devpath: devpath, subsystem: subsystem,
            seqnum: seqnum == 0 ? nil : UInt64(seqnum), properties: properties))
    }
}

@available(*, unavailable)
extension UdevMonitor: Sendable {}
