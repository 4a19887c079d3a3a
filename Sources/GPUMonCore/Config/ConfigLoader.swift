import HostFS
internal import TOMLKit

/// Reads and validates a TOML config. Every problem becomes one ``ConfigError`` naming file, line and key;
/// nothing is half-applied: a config either loads whole or not at all.
public struct ConfigLoader {
    /// Reads `path` (absolute) from the real file system.
    public static func load(path: String) throws(ConfigError) -> Config {
        let text: String?
        do {
            text = try FileTree(root: "/").readString(path, maxBytes: 1 << 20)
        } catch {
            throw ConfigError(file: path, line: 0, key: "", message: "cannot read config: \(error.errno)")
        }
        guard let text else {
            throw ConfigError(file: path, line: 0, key: "", message: "config file does not exist")
        }
        let config = try parse(text, file: path)
        try checkSecretPermissions(config, path: path)
        return config
    }

    /// Parses config text; `file` is used in messages only.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> Config {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(file: file, line: error.source.begin.line, key: "",
                message: "TOML syntax error: \(error.description)")
        } catch {
            throw ConfigError(file: file, line: 0, key: "", message: "TOML syntax error: \(error)")
        }
        let lastLine = max(1, text.split(separator: "\n", omittingEmptySubsequences: false).count - (text.hasSuffix("\n") ? 1 : 0))
        var reader = ConfigReader(file: file, lines: KeyLineIndex(source: text), lastLine: lastLine)
        return try reader.read(table)
    }
}

/// Walks the parsed table, checking types and values, with the key path at hand for messages.
struct ConfigReader {
    let file: String
    let lines: KeyLineIndex
    /// Where a missing section would go: errors about absent keys point at the end of the file.
    let lastLine: Int

    func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, line: lines.line(of: key), key: key, message: message)
    }

    static let sections: [String: Set<String>] = [
        "daemon": [
            "target_driver", "allow_boot_vga", "socket", "state_dir", "uevent_source", "flap_limit", "flap_window",
            "flap_backoff",
        ],
        "gpu": ["ids", "addresses", "companions", "reset_after_stop", "reset_methods"],
        "reset": ["max_resets", "window", "min_interval", "dedupe_window", "step_timeout", "settle_timeout"],
        "libvirt": ["log_dirs", "gate", "gate_timeout", "gate_when_down"],
        "alerts": ["command", "textfile", "command_timeout"],
        "placement": Config.Placement.keys,
    ]

    mutating func read(_ root: TOMLTable) throws(ConfigError) -> Config {
        var config = Config()
        config.source = file
        for key in root.keys.sorted() where ConfigReader.sections[key] == nil {
            throw unknownKey(key, among: Set(ConfigReader.sections.keys))
        }
        if let daemon = try table(root, "daemon") {
            try checkKeys(daemon, path: "daemon")
            if let value = try string(daemon, "target_driver", path: "daemon") {
                guard !value.isEmpty, !value.contains("/"), value.allSatisfy({ !$0.isWhitespace }) else {
                    throw error("daemon.target_driver", "must be a driver name such as \"vfio-pci\"")
                }
                config.daemon.targetDriver = value
            }
            if let value = try bool(daemon, "allow_boot_vga", path: "daemon") { config.daemon.allowBootVGA = value }
            if let value = try absolutePath(daemon, "socket", path: "daemon") { config.daemon.socket = value }
            if let value = try absolutePath(daemon, "state_dir", path: "daemon") { config.daemon.stateDir = value }
            if let text = try string(daemon, "uevent_source", path: "daemon") {
                guard let value = Config.UeventSource(rawValue: text) else {
                    throw error("daemon.uevent_source", "invalid value \"\(text)\": expected one of auto, udev, kernel")
                }
                config.daemon.ueventSource = value
            }
            if let value = try int(daemon, "flap_limit", path: "daemon") {
                guard value >= 1 && value <= 10_000 else {
                    throw error("daemon.flap_limit", "must be 1…10000, got \(value)")
                }
                config.daemon.flapLimit = value
            }
            if let value = try duration(daemon, "flap_window", path: "daemon") {
                guard value > .zero else { throw error("daemon.flap_window", "must be longer than zero") }
                config.daemon.flapWindow = value
            }
            if let value = try duration(daemon, "flap_backoff", path: "daemon") {
                guard value > .zero else { throw error("daemon.flap_backoff", "must be longer than zero") }
                config.daemon.flapBackoff = value
            }
        }
        guard let gpuValue = root["gpu"] else {
            throw ConfigError(file: file, line: lastLine, key: "gpu",
                message: "no [[gpu]] entries: nothing is selected; add at least one with ids or addresses")
        }
        guard let gpus = gpuValue.array, gpuValue.type == .array else {
            throw error("gpu", "expected an array of tables ([[gpu]]), found \(gpuValue.type)")
        }
        if gpus.isEmpty {
            throw error("gpu", "no [[gpu]] entries: nothing is selected; add at least one with ids or addresses")
        }
        for (index, element) in gpus.enumerated() {
            let path = "gpu[\(index)]"
            guard element.type == .table, let entry = element.table else {
                throw error(path, "expected a table, found \(element.type)")
            }
            config.gpus.append(try readGPU(entry, path: path))
        }
        if let reset = try table(root, "reset") {
            try checkKeys(reset, path: "reset")
            if let value = try int(reset, "max_resets", path: "reset") {
                guard value >= 1 && value <= 1000 else { throw error("reset.max_resets", "must be 1…1000, got \(value)") }
                config.reset.maxResets = value
            }
            if let value = try duration(reset, "window", path: "reset") {
                guard value > .zero else { throw error("reset.window", "must be longer than zero") }
                config.reset.window = value
            }
            if let value = try duration(reset, "min_interval", path: "reset") { config.reset.minInterval = value }
            if let value = try duration(reset, "dedupe_window", path: "reset") { config.reset.dedupeWindow = value }
            for (key, keyPath) in [("step_timeout", \Config.Reset.stepTimeout), ("settle_timeout", \Config.Reset.settleTimeout)] {
                if let value = try duration(reset, key, path: "reset") {
                    guard value >= .milliseconds(100) else { throw error("reset.\(key)", "must be at least 100ms") }
                    config.reset[keyPath: keyPath] = value
                }
            }
            if config.reset.minInterval > config.reset.window {
                throw error("reset.min_interval", "is longer than reset.window, so the budget could never be used")
            }
        }
        if let libvirt = try table(root, "libvirt") {
            try checkKeys(libvirt, path: "libvirt")
            if let dirs = try stringArray(libvirt, "log_dirs", path: "libvirt") {
                for (index, dir) in dirs.enumerated() where !dir.hasPrefix("/") {
                    throw error("libvirt.log_dirs[\(index)]", "must be an absolute path, got \"\(dir)\"")
                }
                config.libvirt.logDirs = dirs
            }
            try readGate(libvirt, into: &config.libvirt)
        }
        if let alerts = try table(root, "alerts") {
            try checkKeys(alerts, path: "alerts")
            if let value = try string(alerts, "command", path: "alerts"), !value.isEmpty {
                guard value.hasPrefix("/") else {
                    throw error("alerts.command", "must be an absolute path to a program (it runs without a shell)")
                }
                config.alerts.command = value
            }
            if let value = try string(alerts, "textfile", path: "alerts"), !value.isEmpty {
                guard value.hasPrefix("/"), value.hasSuffix(".prom") else {
                    throw error("alerts.textfile", "must be an absolute path ending in .prom (node_exporter reads only those)")
                }
                config.alerts.textfile = value
            }
            if let value = try duration(alerts, "command_timeout", path: "alerts") {
                guard value >= .milliseconds(100) else {
                    throw error("alerts.command_timeout", "must be at least 100ms")
                }
                config.alerts.commandTimeout = value
            }
        }
        config.placement = try readPlacement(root)
        return config
    }

    func readGPU(_ entry: TOMLTable, path: String) throws(ConfigError) -> Config.GPU {
        try checkKeys(entry, path: path, section: "gpu")
        var gpu = Config.GPU()
        gpu.line = lines.line(of: path)
        for (index, text) in (try stringArray(entry, "ids", path: path) ?? []).enumerated() {
            do {
                gpu.ids.append(try PCIID(parsing: text))
            } catch {
                throw self.error("\(path).ids[\(index)]", error.description)
            }
        }
        for (index, text) in (try stringArray(entry, "addresses", path: path) ?? []).enumerated() {
            do {
                gpu.addresses.append(try PCIAddress(parsing: text))
            } catch {
                throw self.error("\(path).addresses[\(index)]", error.description)
            }
        }
        if gpu.ids.isEmpty && gpu.addresses.isEmpty {
            throw error(path, "selects nothing: give ids = [\"VENDOR:DEVICE\"] and/or addresses = [\"DDDD:BB:DD.F\"]")
        }
        if let value = try bool(entry, "companions", path: path) { gpu.companions = value }
        if let text = try string(entry, "reset_after_stop", path: path) {
            guard let value = ResetAfterStop(rawValue: text) else {
                throw error("\(path).reset_after_stop",
                    "invalid value \"\(text)\": expected one of auto, always, on-stuck, never")
            }
            gpu.resetAfterStop = value
        }
        if let names = try stringArray(entry, "reset_methods", path: path) {
            guard !names.isEmpty else {
                throw error("\(path).reset_methods", "is empty: list at least one method, or set reset_after_stop = \"never\"")
            }
            var methods: [ResetMethod] = []
            for (index, name) in names.enumerated() {
                guard let method = ResetMethod(rawValue: name) else {
                    throw error("\(path).reset_methods[\(index)]",
                        "unknown reset method \"\(name)\": expected one of "
                            + ResetMethod.allCases.map(\.rawValue).joined(separator: ", "))
                }
                guard !methods.contains(method) else {
                    throw error("\(path).reset_methods[\(index)]", "\"\(name)\" is listed twice")
                }
                methods.append(method)
            }
            gpu.resetMethods = methods
        }
        return gpu
    }

    // MARK: - Typed accessors

    func checkKeys(_ table: TOMLTable, path: String, section: String? = nil) throws(ConfigError) {
        let allowed = ConfigReader.sections[section ?? path] ?? []
        for key in table.keys.sorted() where !allowed.contains(key) {
            throw unknownKey("\(path).\(key)", among: allowed)
        }
    }

    func unknownKey(_ path: String, among allowed: Set<String>) -> ConfigError {
        let key = String(path.split(separator: ".").last ?? Substring(path))
        var message = "unknown key"
        if let suggestion = allowed.min(by: { editDistance($0, key) < editDistance($1, key) }),
            editDistance(suggestion, key) <= 3
        {
            message += "; did you mean \"\(suggestion)\"?"
        } else {
            message += "; expected one of " + allowed.sorted().joined(separator: ", ")
        }
        return error(path, message)
    }

    func table(_ parent: TOMLTable, _ key: String) throws(ConfigError) -> TOMLTable? {
        guard let value = parent[key] else { return nil }
        guard value.type == .table, let table = value.table else {
            throw error(key, "expected a table ([\(key)]), found \(value.type)")
        }
        return table
    }

    func string(_ table: TOMLTable, _ key: String, path: String) throws(ConfigError) -> String? {
        guard let value = table[key] else { return nil }
        guard value.type == .string, let string = value.string else {
            throw error("\(path).\(key)", "expected a string, found \(value.type)")
        }
        return string
    }

    func absolutePath(_ table: TOMLTable, _ key: String, path: String) throws(ConfigError) -> String? {
        guard let value = try string(table, key, path: path) else { return nil }
        guard value.hasPrefix("/"), value.count > 1 else {
            throw error("\(path).\(key)", "must be an absolute path, got \"\(value)\"")
        }
        return value
    }

    func bool(_ table: TOMLTable, _ key: String, path: String) throws(ConfigError) -> Bool? {
        guard let value = table[key] else { return nil }
        guard value.type == .bool, let bool = value.bool else {
            throw error("\(path).\(key)", "expected true or false, found \(value.type)")
        }
        return bool
    }

    func int(_ table: TOMLTable, _ key: String, path: String) throws(ConfigError) -> Int? {
        guard let value = table[key] else { return nil }
        guard value.type == .int, let int = value.int else {
            throw error("\(path).\(key)", "expected an integer, found \(value.type)")
        }
        return int
    }

    func duration(_ table: TOMLTable, _ key: String, path: String) throws(ConfigError) -> Duration? {
        guard let text = try string(table, key, path: path) else { return nil }
        do {
            return try ConfigDuration.parse(text)
        } catch {
            throw self.error("\(path).\(key)", error.description)
        }
    }

    func stringArray(_ table: TOMLTable, _ key: String, path: String) throws(ConfigError) -> [String]? {
        guard let value = table[key] else { return nil }
        guard value.type == .array, let array = value.array else {
            throw error("\(path).\(key)", "expected an array of strings, found \(value.type)")
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard element.type == .string, let string = element.string else {
                throw error("\(path).\(key)[\(index)]", "expected a string, found \(element.type)")
            }
            result.append(string)
        }
        return result
    }
}

/// Levenshtein distance, for "did you mean" suggestions on unknown keys.
private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}

extension ConfigReader {
    /// `[libvirt] gate`, `gate_timeout`, `gate_when_down`: the admission gate of `gpumon hook`.
    func readGate(_ libvirt: TOMLTable, into settings: inout Config.Libvirt) throws(ConfigError) {
        if let text = try string(libvirt, "gate", path: "libvirt") {
            guard let value = Config.Libvirt.Gate(rawValue: text) else {
                throw error("libvirt.gate", "invalid value \"\(text.prefix(64))\": expected one of "
                    + Config.Libvirt.Gate.allCases.map(\.rawValue).joined(separator: ", "))
            }
            settings.gate = value
        }
        if let value = try duration(libvirt, "gate_timeout", path: "libvirt") {
            // libvirt waits for the hook with no limit of its own: a gate that could wait for ever would hang
            // `virsh start` (and Nova's spawn) with it.
            guard value > .zero, value <= .seconds(600) else {
                throw error("libvirt.gate_timeout", "must be more than 0s and at most 10m")
            }
            settings.gateTimeout = value
        }
        if let text = try string(libvirt, "gate_when_down", path: "libvirt") {
            guard let value = Config.Libvirt.GateWhenDown(rawValue: text) else {
                throw error("libvirt.gate_when_down", "invalid value \"\(text.prefix(64))\": expected one of "
                    + Config.Libvirt.GateWhenDown.allCases.map(\.rawValue).joined(separator: ", "))
            }
            settings.gateWhenDown = value
        }
    }
}
