#if canImport(Glibc)
import Glibc
#endif

/// Seconds since the Unix epoch, for timestamps people and Prometheus read.
enum WallClock {
    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
