import Foundation

/// Runs the `gpumon` binary that SwiftPM built next to the test bundle, for end-to-end CLI tests.
public enum BuiltBinary {
    /// What one run produced.
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// The built binary: beside the running test executable (`/proc/self/exe`), or `$GPUMON_BIN`.
    public static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["GPUMON_BIN"] { return explicit }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("gpumon").path
    }

    /// Runs `gpumon arguments…` with a clean environment plus `environment`, and waits for it.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { _, new in new }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Writes `text` to a new temporary file and returns its path.
    public static func temporaryFile(_ text: String, name: String = "gpumon.toml") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpumon-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }
}
