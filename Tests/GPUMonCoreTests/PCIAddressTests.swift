import GPUMonCore
import Testing

@Suite struct PCIAddressTests {
    @Test(arguments: [
        ("0000:01:00.0", "0000:01:00.0"),
        ("01:00.1", "0000:01:00.1"),
        ("0000:C1:1f.7", "0000:c1:1f.7"),
        ("10000:e0:06.0", "10000:e0:06.0"),
    ])
    func parsesAndPrints(input: String, printed: String) throws {
        #expect(try PCIAddress(parsing: input).description == printed)
    }

    @Test(arguments: [
        ("", "expected DDDD:BB:DD.F or BB:DD.F"),
        ("0000:01:00", "expected DD.F after the bus, e.g. 01:00.0"),
        ("000:01:00.0", "domain \"000\" is not 4 hex digits"),
        ("0000:1:00.0", "bus \"1\" is not 2 hex digits"),
        ("0000:01:20.0", "device \"20\" is not 2 hex digits below 20"),
        ("0000:01:00.8", "function \"8\" is not a digit 0-7"),
        ("0000:0g:00.0", "bus \"0g\" is not 2 hex digits"),
        ("0000:01:00.0 ", "function \"0 \" is not a digit 0-7"),
        ("a:b:c:d", "expected DDDD:BB:DD.F or BB:DD.F"),
    ])
    func rejects(input: String, reason: String) {
        #expect(throws: PCIAddress.ParseError(input: input, reason: reason)) { try PCIAddress(parsing: input) }
    }

    @Test func slotGroupsFunctionsOfOneCard() throws {
        let gpu = try PCIAddress(parsing: "0000:01:00.0")
        let audio = try PCIAddress(parsing: "0000:01:00.1")
        let other = try PCIAddress(parsing: "0000:02:00.0")
        #expect(gpu.slot == audio.slot)
        #expect(gpu.slot != other.slot)
        #expect(gpu.slot.description == "0000:01:00")
        #expect(gpu < audio && audio < other)
    }

    @Test func pciIDParsing() throws {
        #expect(try PCIID(parsing: "10DE:2204").description == "10de:2204")
        for bad in ["10de", "10de:2204:1", "10de-2204", "10de:22045", "xyzw:2204", ""] {
            #expect(throws: PCIID.ParseError(input: bad)) { try PCIID(parsing: bad) }
        }
    }
}
