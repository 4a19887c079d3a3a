import Foundation
import GPUMonCore
@testable import GPUMonDaemon
import Logging
import Testing

/// Defects 2 and 4: one descriptor per log forever (1,100 logs exhausted the limit), startup re-reading every
/// log from byte 0 into one buffer, and `logpos.json` rewritten for every appended line.
@Suite(.serialized) struct DomainLogBoundsTests {
    let gpuHosts = ["0000:01:00.0", "0000:01:00.1"]

    /// Descriptors of this process open on files under `directory`.
    func descriptors(under directory: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.filter {
            ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) ?? "")
                .hasPrefix(directory + "/")
        }.count
    }

    @Test func descriptorsStayBoundedWithManyLogsAndClosedFilesAreStillFollowed() async throws {
        let lab = try LogLab()
        try FileManager.default.createDirectory(atPath: lab.logs, withIntermediateDirectories: true)
        let count = DomainLogTailer.maxOpenFiles * 4
        for index in 0..<count { try lab.write("vm-\(index)", LogLab.start(gpuHosts)) }
        try await lab.start()
        #expect(descriptors(under: lab.logs) <= DomainLogTailer.maxOpenFiles)
        // Every VM stops: the files closed for the bound are reopened by inode and each stop is reported once.
        for index in 0..<count { try lab.append("vm-\(index)", LogLab.stop) }
        let releases = try await lab.settle()
        #expect(releases.count == count)
        #expect(Set(releases.compactMap(\.domain)).count == count)
        #expect(descriptors(under: lab.logs) <= DomainLogTailer.maxOpenFiles)
        await lab.stop()
    }

    @Test func aClosedFileRotatedAwayIsFinishedFromItsNewName() async throws {
        let lab = try LogLab()
        try FileManager.default.createDirectory(atPath: lab.logs, withIntermediateDirectories: true)
        try lab.write("first", LogLab.start(gpuHosts))
        for index in 0..<DomainLogTailer.maxOpenFiles + 1 { try lab.write("other-\(index)", "") }
        try await lab.start()
        // `first` was read first, so it is the one closed. It stops, and is rotated before the daemon looks.
        try lab.append("first", LogLab.stop)
        try FileManager.default.moveItem(atPath: lab.path("first"), toPath: lab.path("first") + ".0")
        let releases = try await lab.settle()
        #expect(releases.map(\.domain) == ["first"])
        await lab.stop()
    }

    func tailer(_ lab: LogLab, _ inotify: Inotify) -> DomainLogTailer {
        DomainLogTailer(inotify: inotify, directories: [lab.logs], stateDirectory: lab.state,
            logger: Logger(label: "test"))
    }

    @Test func startupReadsABoundedTailAndResumesWithoutHistory() throws {
        let lab = try LogLab()
        try FileManager.default.createDirectory(atPath: lab.logs, withIntermediateDirectories: true)
        // A 12 MiB log: 12 MiB of an earlier run's guest chatter, then the current run's start; no stop yet.
        let filler = String(repeating: "2026-11-25T00:09:55.000001Z qemu-system-x86_64: guest chatter\n", count: 1024)
        let chunk = Data(filler.utf8)
        try lab.write("big", "")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: lab.path("big")))
        while try handle.offset() < 12 << 20 { try handle.write(contentsOf: chunk) }
        try handle.write(contentsOf: Data(LogLab.start(gpuHosts).utf8))
        try handle.close()

        let inotify = try Inotify()
        defer { inotify.close() }
        let first = tailer(lab, inotify)
        #expect(first.start().isEmpty)
        #expect(first.bytesRead <= DomainLogTailer.historyWindow + Int64(TailedFile.chunkBytes),
            "read \(first.bytesRead) bytes of a never-seen 12 MiB log")
        first.persist(force: true)
        first.closeAll()

        // A restart with a saved position reads only what was appended since, and still knows the functions of
        // the start it did not re-read (saved with the position).
        try lab.append("big", LogLab.stop)
        let second = tailer(lab, inotify)
        let releases = second.start()
        // The byte before the saved offset is read too: it shows the resume starts on a line boundary.
        #expect(second.bytesRead == 1 + Int64(LogLab.stop.utf8.count))
        #expect(releases.map(\.addresses) == [gpuHosts.compactMap { try? PCIAddress(parsing: $0) }])
        second.closeAll()
    }

    @Test func positionsAreSavedAtOnceAfterAReleaseOtherwiseCoalesced() throws {
        let lab = try LogLab()
        try FileManager.default.createDirectory(atPath: lab.logs, withIntermediateDirectories: true)
        try lab.write("vm", LogLab.start(gpuHosts))
        let inotify = try Inotify()
        defer { inotify.close() }
        let tailer = tailer(lab, inotify)
        _ = tailer.start()
        tailer.persist(force: true)
        let before = tailer.positionWrites
        for index in 0..<50 {
            try lab.append("vm", "2026-11-25T00:09:55.000001Z qemu-system-x86_64: line \(index)\n")
            _ = tailer.handle(try inotify.readEvents())
            tailer.persist()
        }
        #expect(tailer.positionWrites - before == 0, "50 appended lines, \(tailer.positionWrites - before) saves")
        try lab.append("vm", LogLab.stop)
        let releases = tailer.handle(try inotify.readEvents())
        #expect(releases.count == 1)
        tailer.persist()
        #expect(tailer.positionWrites - before == 1, "a release is saved at once")
        tailer.closeAll()
    }
}
