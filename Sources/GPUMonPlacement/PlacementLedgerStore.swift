import Foundation
public import GPUMonCore
import HostFS
import SystemPackage

/// `placement.json` in `state_dir`: which providers gpumon reserved, one-time-use devices seen consumed, verified
/// resets. A ledger that cannot be read is *untrusted*: gpumon then still reserves but unreserves nothing and
/// does not overwrite the file (fail closed: a bad file must never make gpumon lift a reservation it did not
/// make). docs/runbook.md says how to recover.
public struct PlacementLedgerStore: Sendable {
    public static let fileName = "placement.json"
    public let stateDirectory: String

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    public struct Loaded: Sendable {
        public var ledger: PlacementLedger
        public var trusted: Bool
        public var problem: String?
    }

    public var path: String { FileTree(root: stateDirectory).path(Self.fileName) }

    public func load() -> Loaded {
        let tree = FileTree(root: stateDirectory)
        let text: String?
        do {
            text = try tree.readString(Self.fileName)
        } catch {
            return Loaded(ledger: PlacementLedger(), trusted: false, problem: "cannot read \(path): \(error)")
        }
        guard let text else { return Loaded(ledger: PlacementLedger(), trusted: true, problem: nil) }
        do {
            return Loaded(ledger: try JSONDecoder().decode(PlacementLedger.self, from: Data(text.utf8)), trusted: true,
                problem: nil)
        } catch {
            return Loaded(ledger: PlacementLedger(), trusted: false,
                problem: "\(path) is not a valid Placement ledger: nothing will be unreserved until it is fixed")
        }
    }

    public func save(_ ledger: PlacementLedger) throws {
        try FileTree(root: "/").createDirectory(stateDirectory, mode: 0o700)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileTree(root: stateDirectory).writeFileAtomically(
            String(decoding: try encoder.encode(ledger), as: UTF8.self), to: Self.fileName,
            permissions: [.ownerReadWrite])
    }
}
