import GPUMonCore
@testable import GPUMonHost
import Testing

@Suite struct FileEditorTests {
    let ids = [PCIID(vendor: 0x10de, device: 0x1aef), PCIID(vendor: 0x10de, device: 0x2204)]

    @Test func modprobeKeepsOtherOptionsAndComments() {
        var config = ModprobeConfig(text: """
            # my notes
            options vfio-pci disable_vga=1 ids=10de:1b80 # old card
            options vfio_pci ids=10de:0000
            softdep nouveau pre: drm
            blacklist snd_hda_intel

            """)
        config.setVFIOIDs(ids)
        config.addSoftdep("nouveau")
        config.addSoftdep("nvidia")
        #expect(config.text == """
            # my notes
            options vfio-pci disable_vga=1 # old card
            options vfio_pci ids=10de:1aef,10de:2204
            softdep nouveau pre: vfio-pci drm
            blacklist snd_hda_intel
            softdep nvidia pre: vfio-pci

            """)
        #expect(config.vfioIDs?.ids == ids)
        #expect(config.hasSoftdep("nouveau") && config.hasSoftdep("nvidia") && !config.hasSoftdep("amdgpu"))
        #expect(config.blacklists("snd-hda-intel"))
        // Idempotent.
        let before = config.text
        config.setVFIOIDs(ids.reversed())
        config.addSoftdep("nvidia")
        #expect(config.text == before)
    }

    @Test func moduleListAppendsOnlyWhatIsMissing() {
        var list = ModuleList(text: "# /etc/modules\nvfio\nvfio-pci\n")
        #expect(list.missing(["vfio", "vfio_iommu_type1", "vfio_pci"]) == ["vfio_iommu_type1"])
        list.add(["vfio", "vfio_iommu_type1", "vfio_pci"])
        #expect(list.text == "# /etc/modules\nvfio\nvfio-pci\n# VFIO for GPU passthrough (gpumon setup)\nvfio_iommu_type1\n")
        list.add(["vfio_iommu_type1"])
        #expect(list.missing(["vfio", "vfio_iommu_type1", "vfio_pci"]).isEmpty)
    }

    @Test func dracutDropIn() {
        var list = DracutDriverList(text: "")
        list.add(["vfio", "vfio_iommu_type1", "vfio_pci"])
        #expect(list.text == """
            # Written by gpumon setup: put VFIO into the initramfs and load it before the GPU drivers.
            force_drivers+=" vfio vfio_iommu_type1 vfio_pci "

            """)
        #expect(DracutDriverList(text: "add_drivers+=\" vfio-pci vfio \"\n").drivers == ["vfio_pci", "vfio"])
    }

    @Test func osReleaseParsing() throws {
        let rocky = try HostOS.parse(osRelease: "NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.4\"\n")
        #expect(rocky.family == .rhel && rocky.majorVersion == 9 && rocky.efiDirectory == "rocky")
        #expect(try HostOS.parse(osRelease: "ID=rhel\nVERSION_ID=8.9\n").efiDirectory == "redhat")
        #expect(try HostOS.parse(osRelease: "ID=pop\nID_LIKE=\"ubuntu debian\"\n").family == .debian)
        #expect(throws: HostError.unsupportedDistribution(id: "arch", name: "Arch Linux")) {
            try HostOS.parse(osRelease: "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\n")
        }
    }

    @Test func cpuAndModules() {
        #expect(CPUInfo.parse("vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm\n") == CPUInfo(vendor: .amd, virtualizationFlag: "svm"))
        #expect(CPUInfo.parse("vendor_id\t: GenuineIntel\nflags\t\t: fpu sse\n").virtualizationFlag == nil)
        let names = KernelModules.names(inModuleList: "kernel/drivers/vfio/pci/vfio-pci.ko.zst: x.ko\nkernel/a/b.ko\n")
        #expect(names == ["vfio_pci", "b"])
    }
}
