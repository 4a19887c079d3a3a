import GPUMonHost
import Testing

@Suite struct IOMMUVendorTests {
    @Test func theActiveIOMMUWinsOverTheCPUVendor() {
        #expect(HostFacts.iommuVendor(units: ["dmar0", "dmar1"]) == .intel)
        #expect(HostFacts.iommuVendor(units: ["ivhd0"]) == .amd)
        #expect(HostFacts.iommuVendor(units: []) == nil)
        let os = HostOS(id: "debian", versionID: "12", prettyName: "Debian GNU/Linux 12 (bookworm)", family: .debian)
        // The kernel lab: TCG reports an AMD CPU, the emulated IOMMU is Intel VT-d.
        var facts = HostFacts(os: os, bootMode: .bios, cpu: CPUInfo(vendor: .amd, virtualizationFlag: nil),
            kernel: KernelModules(release: "6.1.0-56-amd64"), activeIOMMU: .intel)
        #expect(facts.iommuParameter == "intel_iommu")
        facts.activeIOMMU = nil
        #expect(facts.iommuParameter == "amd_iommu", "before the IOMMU is on, the CPU vendor decides")
    }
}
