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
    ],
    targets: [
        // Files under an injectable root: sysfs, /etc, /proc. The only module that calls libc for file I/O.
        .target(
            name: "HostFS",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
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
