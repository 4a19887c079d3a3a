// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "gpumon",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "gpumon", targets: ["gpumon"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // Files under an injectable root: sysfs, /etc, /proc. The only module that calls libc for file I/O.
        .target(
            name: "HostFS",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        // libudev, imported only by the Udev wrapper.
        .systemLibrary(name: "CUdev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        // A uevent monitor as an AsyncSequence; no C types in its API.
        .target(
            name: "Udev",
            dependencies: ["CUdev", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        // libsystemd (sd_notify, sd_journal_sendv), imported only by the Systemd wrapper.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(
            name: "Systemd",
            dependencies: ["CSystemd"],
            swiftSettings: strict
        ),
        // libkmod (the module index modprobe uses), imported only by the Kmod wrapper.
        .systemLibrary(name: "CKmod", pkgConfig: "libkmod", providers: [.apt(["libkmod-dev"])]),
        .target(name: "Kmod", dependencies: ["CKmod"], swiftSettings: strict),
        // VFIO's hot-reset ioctls (a bus reset of a whole slot), in C because ioctl is variadic.
        .target(name: "CVFIO"),
        .target(name: "VFIO", dependencies: ["CVFIO"], swiftSettings: strict),
        // libnl-3, imported only by the ProcEvents wrapper (the process-events connector).
        .systemLibrary(name: "CNetlink", pkgConfig: "libnl-3.0", providers: [.apt(["libnl-3-dev"])]),
        .target(name: "ProcEvents", dependencies: ["CNetlink"], swiftSettings: strict),
        // The model (PCI devices read from sysfs), the config and the pure policy (selection, state).
        .target(
            name: "GPUMonCore",
            dependencies: [
                "HostFS",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict
        ),
        // OpenStack Placement: the Keystone/noauth HTTP client and the sync of `reserved` (docs/placement.md).
        // async-http-client, not URLSession: see docs/architecture.md.
        .target(
            name: "GPUMonPlacement",
            dependencies: [
                "GPUMonCore",
                "HostFS",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The daemon: event sources, the enforcer, the executor, alerts, metrics, the control socket.
        .target(
            name: "GPUMonDaemon",
            dependencies: [
                "GPUMonCore",
                "HostFS",
                "Udev",
                "Systemd",
                "VFIO",
                "Kmod",
                "ProcEvents",
                "GPUMonPlacement",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // Host preparation: OS and boot-mode detection, the passthrough setup plan (grub, modules, modprobe,
        // initramfs) and the doctor's checks.
        .target(
            name: "GPUMonHost",
            dependencies: [
                "GPUMonCore",
                "HostFS",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        // The command-line layer: parses arguments, builds dependencies, formats output.
        .target(
            name: "GPUMonCLI",
            dependencies: [
                "GPUMonCore",
                "GPUMonHost",
                "GPUMonDaemon",
                "GPUMonPlacement",
                "HostFS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "gpumon",
            dependencies: ["GPUMonCLI"],
            swiftSettings: strict
        ),
        // Builders for fake sysfs trees laid out the way the kernel lays them out.
        .target(
            name: "GPUMonTestSupport",
            dependencies: ["HostFS", "GPUMonCore", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GPUMonCoreTests",
            dependencies: ["GPUMonCore", "HostFS", "GPUMonTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GPUMonDaemonTests",
            dependencies: ["GPUMonDaemon", "GPUMonCore", "HostFS", "GPUMonTestSupport", "Udev", "Kmod",
                .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GPUMonPlacementTests",
            dependencies: ["GPUMonPlacement", "GPUMonCore", "GPUMonDaemon", "HostFS", "GPUMonTestSupport",
                .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GPUMonHostTests",
            dependencies: ["GPUMonHost", "GPUMonCore", "HostFS", "GPUMonTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GPUMonCLITests",
            dependencies: ["GPUMonTestSupport", "GPUMonCore", "HostFS"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
