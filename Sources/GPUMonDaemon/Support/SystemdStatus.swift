import Systemd

/// The one-line `STATUS=` systemd shows in `systemctl status gpumon`.
enum SystemdStatus {
    static func set(_ text: String) { SystemdNotifier().status(text) }
}
