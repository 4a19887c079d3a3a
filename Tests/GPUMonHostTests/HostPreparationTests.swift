import GPUMonHost
import Testing

@Suite struct HostPreparationTests {
    @Test func moduleLinks() {
        #expect(String(describing: HostPreparation.self) == "HostPreparation")
    }
}
