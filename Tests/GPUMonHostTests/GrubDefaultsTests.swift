@testable import GPUMonHost
import Testing

@Suite struct GrubDefaultsTests {
    let intel: [KernelParameter] = [
        .enabled("intel_iommu"), .exact("iommu", ["pt"]), .includes("modprobe.blacklist", ["nouveau", "nvidia", "nvidia_drm"]),
    ]

    func edited(_ text: String, _ parameters: [KernelParameter]? = nil) throws -> String {
        var grub = GrubDefaults(text: text)
        try grub.apply(parameters ?? intel)
        return grub.text
    }

    @Test(arguments: [
        // Empty, double-quoted.
        ("GRUB_CMDLINE_LINUX=\"\"\n",
            "GRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm\"\n"),
        // Empty and unquoted: quotes are added because the value now has blanks.
        ("GRUB_CMDLINE_LINUX=\n",
            "GRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm\"\n"),
        // Single quotes are kept.
        ("GRUB_CMDLINE_LINUX='quiet'\n",
            "GRUB_CMDLINE_LINUX='quiet intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm'\n"),
        // Unquoted single word, with a trailing comment kept.
        ("GRUB_CMDLINE_LINUX=quiet  # keep me\n",
            "GRUB_CMDLINE_LINUX=\"quiet intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm\"  # keep me\n"),
        // Conflicting values replaced in place; duplicates dropped; an existing blacklist extended.
        ("GRUB_CMDLINE_LINUX=\"intel_iommu=off rhgb iommu=soft quiet modprobe.blacklist=pcspkr iommu=off\"\n",
            "GRUB_CMDLINE_LINUX=\"intel_iommu=on rhgb iommu=pt quiet modprobe.blacklist=pcspkr,nouveau,nvidia,nvidia_drm\"\n"),
        // Already there (in another order, with extra items): untouched.
        ("GRUB_CMDLINE_LINUX=\"iommu=pt modprobe.blacklist=nvidia_drm,nvidia,nouveau,pcspkr intel_iommu=on,sm_on\"\n",
            "GRUB_CMDLINE_LINUX=\"iommu=pt modprobe.blacklist=nvidia_drm,nvidia,nouveau,pcspkr intel_iommu=on,sm_on\"\n"),
        // export and indentation.
        ("  export GRUB_CMDLINE_LINUX=\"$EXTRA\"\n",
            "  export GRUB_CMDLINE_LINUX=\"$EXTRA intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm\"\n"),
    ])
    func editsTheLine(input: String, expected: String) throws {
        #expect(try edited(input) == expected)
    }

    @Test func missingLineIsAppendedWithAComment() throws {
        let text = "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
        #expect(try edited(text) == """
            GRUB_TIMEOUT=5
            GRUB_CMDLINE_LINUX_DEFAULT="quiet"

            # Added by gpumon setup: IOMMU on and host GPU drivers off, for GPU passthrough.
            GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt modprobe.blacklist=nouveau,nvidia,nvidia_drm"

            """)
    }

    @Test func theLastAssignmentIsEditedAndCommentsAreIgnored() throws {
        let text = "#GRUB_CMDLINE_LINUX=\"old\"\nGRUB_CMDLINE_LINUX=\"a\"\nGRUB_CMDLINE_LINUX=\"b\"\n"
        #expect(try edited(text, [.exact("iommu", ["pt"])])
            == "#GRUB_CMDLINE_LINUX=\"old\"\nGRUB_CMDLINE_LINUX=\"a\"\nGRUB_CMDLINE_LINUX=\"b iommu=pt\"\n")
    }

    @Test func aLaterConflictInTheDefaultLineIsRemoved() throws {
        let text = "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=off\"\nGRUB_CMDLINE_LINUX=\"\"\n"
        #expect(try edited(text, [.enabled("intel_iommu")])
            == "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=on\"\n")
    }

    @Test func aValueContinuedOnTheNextLineIsRefused() {
        var grub = GrubDefaults(text: "GRUB_CMDLINE_LINUX=\"quiet\n splash\"\n")
        #expect(throws: GrubDefaults.EditError.self) { try grub.apply(intel) }
    }

    @Test func dashesAndUnderscoresAreTheSameParameter() {
        #expect(KernelParameter.exact("vfio-pci.ids", ["10de:2204"]).isSatisfied(by: ["vfio_pci.ids=10de:2204"]))
        #expect(!KernelParameter.enabled("intel_iommu").isSatisfied(by: ["intel_iommu=on", "intel_iommu=off"]))
        #expect(KernelParameter.enabled("intel_iommu").isSatisfied(by: ["intel_iommu=off", "intel_iommu=on"]))
    }
}
