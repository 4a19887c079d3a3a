import GPUMonCore
import Testing

/// Defect 9: hook input from libvirt is data, however it looks.
struct HookInputRobustnessTests {
    @Test func aLeadingSeparatorIsDroppedOnlyWhenLibvirtsFourArgumentsFollow() {
        let separated = HookInput(arguments: ["--", "--socket=/tmp/x", "stopped", "end", "-"])
        #expect(separated?.domain == "--socket=/tmp/x" && separated?.isRelease == true)
        let named = HookInput(arguments: ["--", "stopped", "end", "-"])
        #expect(named?.domain == "--" && named?.isRelease == true, "a domain named -- without the separator")
    }

    static func hostdev(_ bus: Int, _ function: Int) -> String {
        "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x"
            + String(bus, radix: 16) + "' slot='0x00' function='0x\(function)'/></source>"
            + "<address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/></hostdev>"
    }

    /// Inputs built to hit each formerly super-linear path; each still yields the right hostdevs. Sized for a
    /// debug build (2 MiB); the 16 MiB timing of the release binary is in docs/benchmarks.md (bench/hook-xml).
    /// Before the fix the unmatched-end-tags case alone ran for minutes at this size.
    @Test func adversarialDocumentsScanCorrectly() {
        let size = 2 << 20
        let tail = Self.hostdev(1, 0) + Self.hostdev(1, 1)
        let expected = [PCIAddress(bus: 1, device: 0, function: 0), PCIAddress(bus: 1, device: 0, function: 1)]
        // One comment as large as the document, almost closed many times over.
        let comment = "<domain><!--" + String(repeating: "--x", count: size / 3) + "-->" + tail + "</domain>"
        #expect(DomainXMLScanner.pciHostdevAddresses(in: comment) == expected)
        // Many open elements, then as many end tags that match none of them.
        let count = size / 16
        let unmatched = "<domain>" + String(repeating: "<a>", count: count) + String(repeating: "</zz>", count: count)
            + tail + "</domain>"
        #expect(DomainXMLScanner.pciHostdevAddresses(in: unmatched) == expected)
        // Hostdevs by the ten thousand, every address repeated.
        var many = "<domain><devices>"
        for index in 0..<5_000 { many += Self.hostdev(index % 256, (index / 256) % 2) }
        many += "</devices></domain>"
        #expect(DomainXMLScanner.pciHostdevAddresses(in: many).count == 256 * 2)
    }
}
