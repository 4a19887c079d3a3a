import GPUMonCore
import Testing

@Suite struct ConfigDurationTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)), ("30s", .seconds(30)), ("10m", .seconds(600)),
        ("1h30m", .seconds(5400)), ("2d", .seconds(172_800)), ("0s", .zero),
    ])
    func parses(text: String, expected: Duration) throws {
        #expect(try ConfigDuration.parse(text) == expected)
    }

    @Test(arguments: ["", "10", "m", "10 m", "1.5h", "-5s", "10min", "5s3", "99999999999999999999d"])
    func rejects(text: String) {
        #expect(throws: ConfigDuration.ParseError(input: text)) { try ConfigDuration.parse(text) }
    }

    @Test func formatsShortest() {
        #expect(ConfigDuration.format(.seconds(600)) == "10m")
        #expect(ConfigDuration.format(.seconds(90)) == "90s")
        #expect(ConfigDuration.format(.milliseconds(1500)) == "1500ms")
        #expect(ConfigDuration.format(.seconds(7200)) == "2h")
    }
}
