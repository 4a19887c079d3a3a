import Foundation
import GPUMonDaemon
import GPUMonTestSupport
import HostFS
import Kmod
import Testing

/// Issue 10, defect 7 and the libkmod lookup.
@Suite struct DriverRegistrationOrderTests {
    static let fixtureRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kmod").path

    let rtxVGA = "pci:v000010DEd00002204sv00001458sd0000403Bbc03sc00i00"
    let turingUSB = "pci:v000010DEd00001AD6sv00001458sd0000403Bbc0Csc03i30"

    func proc(modules: String) throws -> FakeSysfs {
        let proc = try FakeSysfs()
        try proc.tree.createDirectory("sys/kernel")
        try proc.tree.writeFileAtomically("6.1.0-fixture\n", to: "sys/kernel/osrelease")
        try proc.tree.writeFileAtomically(modules, to: "modules")
        return proc
    }

    /// The wrapper reads depmod's binary index: a loadable module and a built-in one.
    @Test func libkmodFindsLoadableAndBuiltinDrivers() throws {
        let index = try #require(ModuleIndex(modulesDirectory: Self.fixtureRoot + "/lib/modules/6.1.0-fixture"))
        #expect(index.lookup(rtxVGA) == [.init(name: "nvidia", builtin: false)])
        #expect(index.lookup(turingUSB) == [.init(name: "xhci_pci", builtin: true)])
        #expect(index.lookup("pci:v00008086d00001533sv00008086sd00000001bc02sc00i00").isEmpty)
    }

    /// Before: only `/proc/modules` and `modules.alias` were read, so a built-in xhci_pci (registered at boot,
    /// before any module) was not seen and remove+rescan handed the card's USB function to it.
    @Test func aBuiltinHostDriverRegisteredBeforeALoadableTarget() throws {
        let p = try proc(modules: "vfio_pci 16384 0 - Live 0x0\nnvidia 100 0 - Live 0x0\n")
        let order = DriverRegistrationOrder.system(proc: p.tree, root: FileTree(root: Self.fixtureRoot))
        #expect(order.earlierMatchingModules(modalias: turingUSB, targetModule: "vfio-pci") == ["xhci_pci (built in)"])
        // nvidia loaded before vfio_pci (listed after it: /proc/modules is newest first).
        #expect(order.earlierMatchingModules(modalias: rtxVGA, targetModule: "vfio-pci") == ["nvidia"])
    }

    @Test func aHostModuleLoadedAfterTheTargetIsFine() throws {
        let p = try proc(modules: "nvidia 100 0 - Live 0x0\nvfio_pci 16384 0 - Live 0x0\n")
        let order = DriverRegistrationOrder.system(proc: p.tree, root: FileTree(root: Self.fixtureRoot))
        #expect(order.earlierMatchingModules(modalias: rtxVGA, targetModule: "vfio-pci").isEmpty)
    }

    /// Both built in: link order decides, which gpumon cannot see — refused (fail closed).
    @Test func bothBuiltinIsRefused() throws {
        let p = try proc(modules: "nvidia 100 0 - Live 0x0\n")
        let order = DriverRegistrationOrder.system(proc: p.tree, root: FileTree(root: Self.fixtureRoot))
        #expect(order.earlierMatchingModules(modalias: turingUSB, targetModule: "vfio-pci")
            == ["xhci_pci (built in, like vfio_pci: order unknown)"])
        #expect(order.earlierMatchingModules(modalias: rtxVGA, targetModule: "vfio-pci").isEmpty,
            "a built-in target registered before every loadable module")
    }
}
