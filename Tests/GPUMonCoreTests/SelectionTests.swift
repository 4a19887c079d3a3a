import GPUMonCore
import GPUMonTestSupport
import Testing

@Suite struct SelectionTests {
    func config(_ text: String) throws -> Config { try ConfigLoader.parse(text, file: "t.toml") }
    func address(_ text: String) throws -> PCIAddress { try PCIAddress(parsing: text) }

    @Test func idsSelectTheGPUAndCompanionsAddItsAudio() throws {
        let sys = try HostFixtures.rtxHost()
        let topology = try PCISysfs(sysfs: sys.tree).scan().topology
        let selection = SelectionResolver.resolve(try config("[[gpu]]\nids = [\"10de:2204\"]\n"), topology: topology)
        #expect(selection.selectedAddresses == [try address("0000:01:00.0"), try address("0000:01:00.1")])
        #expect(selection.selected[try address("0000:01:00.0")] == .id(rule: 0))
        #expect(selection.companionOf(try address("0000:01:00.1")) == (try address("0000:01:00.0")))
        #expect(selection.excluded.isEmpty)
        let viability = GroupViability.evaluate(group: 1, topology: topology, selection: selection,
            targetDriver: "vfio-pci")
        #expect(viability.isViable)  // the root port in group 1 is a bridge and does not count
    }

    @Test func companionsFalseTakesOnlyTheMatchedFunction() throws {
        let sys = try HostFixtures.rtxHost()
        let topology = try PCISysfs(sysfs: sys.tree).scan().topology
        let selection = SelectionResolver.resolve(
            try config("[[gpu]]\nids = [\"10de:2204\"]\ncompanions = false\n"), topology: topology)
        #expect(selection.selectedAddresses == [try address("0000:01:00.0")])
        let viability = GroupViability.evaluate(group: 1, topology: topology, selection: selection,
            targetDriver: "vfio-pci")
        #expect(viability.blockers == [try address("0000:01:00.1")])
    }

    @Test func bootVGAWithTheSameIDsIsNeverTaken() throws {
        let sys = try HostFixtures.sharedIDsBootVGAHost()
        let topology = try PCISysfs(sysfs: sys.tree).scan().topology
        let selection = SelectionResolver.resolve(
            try config("[[gpu]]\nids = [\"10de:2204\", \"10de:1aef\"]\n"), topology: topology)
        #expect(selection.selectedAddresses == [try address("0000:02:00.0"), try address("0000:02:00.1")])
        #expect(selection.excluded[try address("0000:01:00.0")] == .bootVGA)
        // The console card's audio matches an id too, but it is part of the console's card.
        #expect(selection.excluded[try address("0000:01:00.1")] == .bootVGASlot)
    }

    @Test func bootVGAByAddressIsStillRefusedUnlessAllowed() throws {
        let sys = try HostFixtures.sharedIDsBootVGAHost()
        let topology = try PCISysfs(sysfs: sys.tree).scan().topology
        let refused = SelectionResolver.resolve(
            try config("[[gpu]]\naddresses = [\"0000:01:00.0\"]\n"), topology: topology)
        #expect(refused.selected.isEmpty)
        #expect(refused.excluded[try address("0000:01:00.0")] == .bootVGA)

        let allowed = SelectionResolver.resolve(
            try config("[daemon]\nallow_boot_vga = true\n[[gpu]]\nids = [\"10de:2204\"]\n"), topology: topology)
        #expect(allowed.selectedAddresses.map(\.description)
            == ["0000:01:00.0", "0000:01:00.1", "0000:02:00.0", "0000:02:00.1"])
    }

    @Test func bridgesAreNeverSelected() throws {
        let sys = try HostFixtures.rtxHost()
        let topology = try PCISysfs(sysfs: sys.tree).scan().topology
        let selection = SelectionResolver.resolve(
            try config("[[gpu]]\naddresses = [\"0000:00:01.0\", \"0000:00:00.0\"]\nids = [\"8086:a33c\"]\n"),
            topology: topology)
        #expect(selection.selected.isEmpty)
        #expect(selection.excluded.count == 3)
        #expect(selection.excluded.values.allSatisfy { $0 == .bridge })
    }

    @Test func absentAddressesAndUnmatchedIDsAreReported() throws {
        let sys = try HostFixtures.datacenterHost()
        let topology = try PCISysfs(sysfs: sys.tree).scan().topology
        let selection = SelectionResolver.resolve(
            try config("[[gpu]]\nids = [\"10de:2204\"]\n[[gpu]]\naddresses = [\"0000:41:00.0\", \"0000:81:00.0\"]\n"),
            topology: topology)
        #expect(selection.selectedAddresses == [try address("0000:41:00.0")])
        #expect(selection.missing == [try address("0000:81:00.0"): 1])
        #expect(selection.unmatchedIDs.count == 1 && selection.unmatchedIDs[0].id.description == "10de:2204")
    }

    @Test func unselectedEndpointOnAHostDriverBlocksItsGroup() throws {
        let sys = try FakeSysfs()
        try sys.add(.init("0000:05:00.0", id: "10de:2204", class: 0x030000, driver: "vfio-pci", group: 7))
        try sys.add(.init("0000:06:00.0", id: "8086:1533", class: 0x020000, driver: "igb", group: 7))
        try sys.add(.init("0000:07:00.0", id: "8086:1533", class: 0x020000, group: 7))
        let topology = try PCISysfs(sysfs: sys.tree).scan().topology
        let selection = SelectionResolver.resolve(try config("[[gpu]]\nids = [\"10de:2204\"]\n"), topology: topology)
        let viability = GroupViability.evaluate(group: 7, topology: topology, selection: selection,
            targetDriver: "vfio-pci")
        #expect(!viability.isViable)
        #expect(viability.blockers == [try address("0000:06:00.0")])  // the unbound one does not block
    }
}

/// Issue 10, defect 8: a function whose attributes cannot be read stays present and unknown.
@Suite struct UnreadableDeviceTests {
    /// Before: the boot VGA with a garbled `revision` vanished from the topology, so its audio function looked
    /// like a card of its own and was selected.
    @Test func anUnreadableBootVGAKeepsItsSiblingsExcluded() throws {
        let sys = try HostFixtures.sharedIDsBootVGAHost()
        try sys.setAttribute(try PCIAddress(parsing: "0000:01:00.0"), "revision", "garbage\n")
        let (topology, problems) = try PCISysfs(sysfs: sys.tree).scan()
        let console = try PCIAddress(parsing: "0000:01:00.0")
        #expect(topology[console] == nil)
        #expect(topology.isUnknown(console))
        #expect(!problems.isEmpty)
        let config = try ConfigLoader.parse("[[gpu]]\nids = [\"10de:1aef\"]\n", file: "t.toml")
        let selection = SelectionResolver.resolve(config, topology: topology)
        #expect(!selection.isSelected(try PCIAddress(parsing: "0000:01:00.1")))
        #expect(selection.excluded[try PCIAddress(parsing: "0000:01:00.1")] == .unreadableSibling)
        #expect(selection.isSelected(try PCIAddress(parsing: "0000:02:00.1")), "the other card is unaffected")
    }

    /// An unreadable `boot_vga` (EIO, here a directory where the file was) is the same: present, unknown.
    @Test func anUnreadableBootVGAFlagIsUnknownNotAbsent() throws {
        let sys = try HostFixtures.sharedIDsBootVGAHost()
        try sys.makeUnreadable(try PCIAddress(parsing: "0000:01:00.0"), "boot_vga")
        let (topology, _) = try PCISysfs(sysfs: sys.tree).scan()
        #expect(topology.isUnknown(try PCIAddress(parsing: "0000:01:00.0")))
        let config = try ConfigLoader.parse("[[gpu]]\naddresses = [\"0000:01:00.0\", \"0000:01:00.1\"]\n", file: "t.toml")
        let selection = SelectionResolver.resolve(config, topology: topology)
        #expect(selection.selected.isEmpty)
        #expect(selection.excluded[try PCIAddress(parsing: "0000:01:00.0")] == .unreadable)
        #expect(selection.missing.isEmpty, "present, not missing")
    }

    /// A slot-wide reset never covers an unreadable function.
    @Test func slotWideResetsRefuseAnUnreadableSibling() throws {
        let sys = try HostFixtures.rtxHost()
        try sys.setAttribute(try PCIAddress(parsing: "0000:01:00.1"), "class", "0xzz\n")
        let (topology, _) = try PCISysfs(sysfs: sys.tree).scan()
        let gpu = try #require(topology[try PCIAddress(parsing: "0000:01:00.0")])
        let plan = ResetPlanner.plan(functions: [gpu], methods: [.bus, .slot, .removeRescan], topology: topology)
        #expect(plan.steps.isEmpty)
        #expect(plan.skipped.count == 3)
        #expect(plan.skipped.allSatisfy { $0.contains("0000:01:00.1") })
    }
}
