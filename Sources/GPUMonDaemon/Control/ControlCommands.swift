import GPUMonCore

/// The control socket's lifecycle commands: `released`, `started` and `gate` (the hook), `reset` and `clear`
/// (operators).
enum ControlCommands {
    static func handle(_ request: ControlRequest, lifecycle: VMLifecycle, enforcer: Enforcer) async -> ControlResponse {
        var addresses: [PCIAddress] = []
        var rejected: [String] = []
        for text in request.addresses ?? [] {
            do {
                addresses.append(try PCIAddress(parsing: text))
            } catch {
                // A release is news from a VM stop: one bad address must not lose the good ones. Operator
                // commands (reset, clear) are refused whole: a typo there is better fixed than half-applied.
                guard request.command == "released" else { return .failure(error.description) }
                rejected.append("rejected: \(error.description)")
            }
        }
        guard !addresses.isEmpty || ["released", "started", "gate"].contains(request.command) else {
            return .failure("\(request.command) needs \"addresses\"")
        }
        switch request.command {
        case "released":
            let source = request.source.flatMap(ReleaseSignal.Source.init(rawValue:)) ?? .hook
            let signal = ReleaseSignal(source: source, domain: request.domain, addresses: addresses,
                reason: request.reason)
            // The hook must return at once: the stop is decided now (a gate question right after sees it as due)
            // and handled after replying.
            await lifecycle.submit(signal)
            return ControlResponse(ok: true, lines: ["release of \(addresses.count) function(s) accepted"] + rejected)
        case "started":
            // `[libvirt] gate = "off"`: the hook still says that a VM run began (the VM-run identity).
            await lifecycle.submit(ReleaseSignal(source: .hook, domain: request.domain, addresses: addresses,
                reason: request.reason, kind: .started))
            return ControlResponse(ok: true)
        case "gate":
            guard let domain = request.domain, !domain.isEmpty else { return .failure("gate needs \"domain\"") }
            return await lifecycle.gate(domain: domain, addresses: addresses)
        case "reset":
            var method: ResetMethod?
            if let name = request.method {
                guard let parsed = ResetMethod(rawValue: name) else {
                    return .failure("unknown reset method \"\(name.prefix(32))\": expected one of "
                        + ResetMethod.allCases.map(\.rawValue).joined(separator: ", "))
                }
                method = parsed
            }
            return await lifecycle.operatorReset(addresses, method: method, dryRun: request.dryRun ?? false)
        default:
            let cleared = await lifecycle.clear(addresses)
            return ControlResponse(ok: true, lines: addresses.map { address in
                cleared.contains(address) ? "\(address): quarantine and reset history cleared"
                    : "\(address): nothing to clear"
            })
        }
    }
}
