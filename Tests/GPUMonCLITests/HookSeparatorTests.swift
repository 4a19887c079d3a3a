import Foundation
import GPUMonTestSupport
import Testing

extension HookCommandTests {
    /// Defect 9: the shipped hook ran `gpumon hook "$@"`, so a domain named `--socket=…` was parsed as the socket
    /// option: the release went to a socket the domain's owner chose, or nowhere. It now runs `gpumon hook -- "$@"`.
    @Test func aDomainNamedLikeAnOptionIsADomain() throws {
        let daemon = try FakeControlServer(answers: true)
        let planted = try FakeControlServer(answers: true)
        let config = try BuiltBinary.temporaryFile(
            "[daemon]\nsocket = \"\(daemon.path)\"\n[[gpu]]\nids = [\"10de:2204\"]\n")
        let domain = "--socket=\(planted.path)"
        let run = try hook([domain, "stopped", "end", "-"], stdin: try gpuXML("stopped-end"),
            script: ["GPUMON_BIN": BuiltBinary.path, "GPUMON_CONFIG": config])
        #expect(run.status == 0 && run.stdout.isEmpty && run.stderr.isEmpty, "\(run)")
        #expect(planted.requests.isEmpty, "nothing goes to a socket named by the domain")
        let requests = try daemon.requests.map(request)
        #expect(requests.map { $0["domain"] as? String } == [domain])
        #expect(requests.first?["addresses"] as? [String] == ["0000:01:00.0", "0000:01:00.1"])
    }
}
