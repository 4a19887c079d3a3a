import GPUMonCore

/// The fixture hosts the unit and CLI tests share, each a ``FakeSysfs`` laid out like a real machine.
public enum HostFixtures {
    /// A workstation-class host: an RTX 3090 (`10de:2204`) with its HDMI audio (`10de:1aef`) at
    /// `0000:01:00.0`/`.1` in IOMMU group 1, bound to nvidia and snd_hda_intel, with only a bus reset (no FLR);
    /// an Intel iGPU as the boot VGA; an igb NIC at `0000:02:00.0` that nothing selects.
    public static func rtxHost() throws -> FakeSysfs {
        let sys = try FakeSysfs()
        try sys.add(.init("0000:00:00.0", id: "8086:3e30", class: 0x060000, group: 0))
        try sys.add(.init("0000:00:01.0", id: "8086:1901", class: 0x060400, driver: "pcieport", group: 1,
            bridge: true))
        try sys.add(.init("0000:00:02.0", id: "8086:3e92", class: 0x030000, driver: "i915", group: 2,
            reset: ["flr", "bus"], bootVGA: true))
        try sys.add(.init("0000:00:1c.0", id: "8086:a33c", class: 0x060400, driver: "pcieport", group: 3,
            bridge: true))
        try sys.add(.init("0000:01:00.0", id: "10de:2204", class: 0x030000, driver: "nvidia", parent: "0000:00:01.0",
            group: 1, reset: ["bus"], bootVGA: false, subsystem: "1458:403b"))
        try sys.add(.init("0000:01:00.1", id: "10de:1aef", class: 0x040300, driver: "snd_hda_intel",
            parent: "0000:00:01.0", group: 1, reset: ["bus"], subsystem: "1458:403b"))
        try sys.add(.init("0000:02:00.0", id: "8086:1533", class: 0x020000, driver: "igb", parent: "0000:00:1c.0",
            group: 3, reset: ["flr", "bus"]))
        return sys
    }

    /// A datacenter host: an A100 (`10de:20b5`, 3D controller, FLR-capable) at `0000:41:00.0` on vfio-pci
    /// already, an H100 (`10de:2330`) at `0000:c1:00.0` still on nvidia, and an ASPEED BMC display as the boot VGA.
    public static func datacenterHost() throws -> FakeSysfs {
        let sys = try FakeSysfs()
        try sys.add(.init("0000:00:00.0", id: "1022:1480", class: 0x060000, group: 0))
        try sys.add(.init("0000:00:01.1", id: "1022:1483", class: 0x060400, driver: "pcieport", group: 1,
            bridge: true))
        try sys.add(.init("0000:00:03.1", id: "1022:1483", class: 0x060400, driver: "pcieport", group: 4,
            bridge: true))
        try sys.add(.init("0000:00:07.1", id: "1022:1484", class: 0x060400, driver: "pcieport", group: 5,
            bridge: true))
        try sys.add(.init("0000:03:00.0", id: "1a03:2000", class: 0x030000, driver: "ast", parent: "0000:00:07.1",
            group: 5, reset: [], bootVGA: true))
        try sys.add(.init("0000:41:00.0", id: "10de:20b5", class: 0x030200, driver: "vfio-pci",
            parent: "0000:00:01.1", group: 30, reset: ["flr", "bus"], powerState: "D3hot"))
        try sys.add(.init("0000:c1:00.0", id: "10de:2330", class: 0x030200, driver: "nvidia",
            parent: "0000:00:03.1", group: 40, reset: ["flr", "bus"]))
        return sys
    }

    /// A host whose console GPU has the same IDs as the passthrough GPU: two RTX 3090 cards, the one at
    /// `0000:01:00.0` is the boot VGA (with its audio at `.1`), the one at `0000:02:00.0` is for VMs.
    /// `bootVGADriver`: `nil` leaves the console card unbound (no host driver loaded for it yet), so a dynamic ID
    /// for `10de:2204` would capture it.
    public static func sharedIDsBootVGAHost(bootVGADriver: String? = "nvidia", bootAudioDriver: String? = "snd_hda_intel")
        throws -> FakeSysfs
    {
        let sys = try FakeSysfs()
        try sys.add(.init("0000:00:00.0", id: "8086:3e30", class: 0x060000, group: 0))
        try sys.add(.init("0000:00:01.0", id: "8086:1901", class: 0x060400, driver: "pcieport", group: 1,
            bridge: true))
        try sys.add(.init("0000:00:01.1", id: "8086:1905", class: 0x060400, driver: "pcieport", group: 2,
            bridge: true))
        try sys.add(.init("0000:01:00.0", id: "10de:2204", class: 0x030000, driver: bootVGADriver,
            parent: "0000:00:01.0", group: 10, reset: ["bus"], bootVGA: true))
        try sys.add(.init("0000:01:00.1", id: "10de:1aef", class: 0x040300, driver: bootAudioDriver,
            parent: "0000:00:01.0", group: 10, reset: ["bus"]))
        try sys.add(.init("0000:02:00.0", id: "10de:2204", class: 0x030000, driver: "nvidia", parent: "0000:00:01.1",
            group: 11, reset: ["bus"], bootVGA: false))
        try sys.add(.init("0000:02:00.1", id: "10de:1aef", class: 0x040300, driver: "snd_hda_intel",
            parent: "0000:00:01.1", group: 11, reset: ["bus"]))
        return sys
    }

    /// A small `pci.ids` with the fixtures' names.
    public static let pciIDs = """
        # test database
        10de  NVIDIA Corporation
        \t1aef  GA102 High Definition Audio Controller
        \t2204  GA102 [GeForce RTX 3090]
        \t\t1458 403b  GeForce RTX 3090 GAMING OC
        \t20b5  GA100 [A100 PCIe 80GB]
        8086  Intel Corporation
        \t1533  I210 Gigabit Network Connection
        C 03  Display controller
        \t00  VGA compatible controller

        """
}
