import GPUMonCore
import GPUMonDaemon
import GPUMonTestSupport
import Testing

/// The VM-run identity (a stop is new when the slot was started after the last handled stop) and the admission
/// gate's daemon side, on the RTX fixture host with the GPU and its audio on vfio-pci.
@Suite struct RunIdentityAndGateTests {
    let slot = ["0000:01:00.0", "0000:01:00.1"]

    func harness(_ extra: String = "") async throws -> LifecycleHarness {
        let sys = try HostFixtures.rtxHost()
        for a in slot { try sys.bind(try PCIAddress(parsing: a), to: "vfio-pci") }
        // dedupe_window is left at its default (5 s): the time window must no longer decide anything.
        let h = try LifecycleHarness(sys: sys,
            config: "[reset]\nmin_interval = \"0s\"\n\(extra)\n[[gpu]]\nids = [\"10de:2204\"]\n")
        await h.base.enforcer.reconcileAll(reason: "start")
        return h
    }

    // Failed before the fix: the second run's stop, seconds after the first handling, was dropped as
    // "same stop, already handled" (no reset, not counted toward max_resets).
    @Test func aQuickSecondRunIsResetAndCounted() async throws {
        let h = try await harness()
        try await h.run(slot)
        try await h.run(slot)
        #expect(h.base.kernel.resets == ["slot 0000:01:00", "slot 0000:01:00"])
    }

    // Failed before the fix with dedupe_window = "0s": each late signal was a new stop (three resets).
    @Test func theThreeSignalsOfOneRunAreOneStopWhateverTheirDelay() async throws {
        let h = try await harness("dedupe_window = \"0s\"")
        try await h.start(slot, source: .log)
        try await h.start(slot, source: .hook)
        try await h.stop(slot, source: .process)
        try await h.stop(slot, source: .log)
        try await h.stop(slot, source: .hook)
        #expect(h.base.kernel.resets.count == 1, "\(h.base.kernel.resets)")
        // The next run's start, seen by any one source, makes its stop new again.
        try await h.start(["0000:01:00.0"], source: .process)
        try await h.stop(slot, source: .hook)
        try await h.stop(slot, source: .log)
        #expect(h.base.kernel.resets.count == 2, "\(h.base.kernel.resets)")
    }

    @Test func aStopWithoutAnyStartSeenSinceTheLastHandledOneIsTheSameStop() async throws {
        let h = try await harness()
        try await h.stop(slot)
        try await h.stop(slot, source: .hook)
        #expect(h.base.kernel.resets.count == 1)
    }

    @Test func aLogStopThatAlsoEndedItsStartBlockCountsTheStart() async throws {
        let h = try await harness()
        try await h.run(slot)
        await h.lifecycle.release(ReleaseSignal(source: .log, domain: "instance-0000001a",
            addresses: try slot.map { try PCIAddress(parsing: $0) }, reason: "failed", includesStart: true))
        #expect(h.base.kernel.resets.count == 2)
    }

    @Test func theGateAnswersReadyAtOnceAndCountsAStart() async throws {
        let h = try await harness()
        try await h.stop(slot)
        let answer = await h.lifecycle.gate(domain: "instance-0000001b", addresses: try addresses(slot))
        #expect(answer.ok, "\(answer.error ?? "")")
        #expect(answer.lines == ["ready"])
        try await h.stop(slot, source: .process)
        #expect(h.base.kernel.resets.count == 2, "the gate's start made the next stop a new run")
    }

    @Test func theGateRefusesAQuarantinedSlotNamingTheFix() async throws {
        let h = try await harness("max_resets = 1\nwindow = \"1h\"")
        try await h.run(slot)
        try await h.run(slot)
        #expect(await h.state("0000:01:00.0") == .quarantined)
        let answer = await h.lifecycle.gate(domain: "instance-0000001c", addresses: try addresses(slot))
        #expect(!answer.ok)
        let line = try #require(answer.error)
        #expect(line.hasPrefix("gpumon: not starting instance-0000001c: 0000:01:00.0 quarantined: "))
        #expect(line.contains("gpumon clear 0000:01:00.0"))
        #expect(!line.contains("\n"))
    }

    @Test func theGateInWarnModeAllowsWithAWarning() async throws {
        let h = try await harness("max_resets = 1\nwindow = \"1h\"\n[libvirt]\ngate = \"warn\"")
        try await h.run(slot)
        try await h.run(slot)
        let answer = await h.lifecycle.gate(domain: "vm", addresses: try addresses(slot))
        #expect(answer.ok)
        #expect(answer.lines?.first?.hasPrefix("warning: gpumon: not starting vm: 0000:01:00.0 quarantined") == true)
    }

    @Test func theGateRefusesAGroupHeldByAnotherProcess() async throws {
        let h = try await harness()
        try h.base.holdGroup(1)
        let answer = await h.lifecycle.gate(domain: "vm", addresses: try addresses(["0000:01:00.0"]))
        #expect(!answer.ok)
        #expect(answer.error?.contains("held by another process") == true, "\(answer.error ?? "")")
    }

    @Test func theGatePassesFunctionsGpumonDoesNotSelect() async throws {
        let h = try await harness()
        // The fixture's NIC (igb): not selected, so gpumon has no say, whatever its state.
        try h.base.holdGroup(3)
        let answer = await h.lifecycle.gate(domain: "vm", addresses: try addresses(["0000:02:00.0"]))
        #expect(answer.ok, "\(answer.error ?? "")")
    }

    @Test func theGateWaitsWhileAStopIsDueThenAnswersWhenTheResetEnded() async throws {
        let h = try await harness("[libvirt]\ngate_timeout = \"200ms\"")
        // A stop accepted (as the hook's `released` is) but not handled yet: the reset is due.
        await h.lifecycle.submit(ReleaseSignal(source: .hook, domain: "vm1", addresses: try addresses(slot)))
        let early = await h.lifecycle.gate(domain: "vm2", addresses: try addresses(slot))
        #expect(!early.ok)
        #expect(early.error?.contains("still not ready after gate_timeout 200ms (a reset is running or due)") == true,
            "\(early.error ?? "")")
        #expect(h.base.kernel.resets.isEmpty)
        // With the handling service running, the same question waits for the reset and then gets a yes.
        var config = h.base.config
        config.libvirt.gateTimeout = .seconds(30)
        await h.lifecycle.reload(config)
        let lifecycle = h.lifecycle
        let functions = try addresses(slot)
        let answer = try await withThrowingTaskGroup(of: ControlResponse?.self) { group in
            group.addTask {
                try await VMLifecycle.HandlingService(lifecycle: lifecycle).run()
                return nil
            }
            group.addTask { await lifecycle.gate(domain: "vm2", addresses: functions) }
            var answer: ControlResponse?
            while let next = try await group.next() {
                if let next {
                    answer = next
                    group.cancelAll()
                }
            }
            return answer
        }
        #expect(answer?.ok == true, "\(answer?.error ?? "")")
        #expect(answer?.lines?.first?.hasPrefix("ready after waiting") == true, "\(answer?.lines ?? [])")
        #expect(h.base.kernel.resets == ["slot 0000:01:00"], "the reset ran before the answer")
    }

    @Test func theGateRefusesAHostDriverInADryRunAndWaitsForTheClaimOtherwise() async throws {
        let sys = try HostFixtures.rtxHost()
        // On nvidia/snd_hda_intel, and a dry-run daemon: nobody will claim it.
        let h = try LifecycleHarness(sys: sys, config: "[[gpu]]\nids = [\"10de:2204\"]\n", dryRun: true)
        let answer = await h.lifecycle.gate(domain: "vm", addresses: try addresses(["0000:01:00.0"]))
        #expect(!answer.ok)
        #expect(answer.error?.contains("not vfio-pci, and gpumon is not claiming it") == true, "\(answer.error ?? "")")
        // The refusal is counted for the fleet's alert rule (deploy/prometheus: gate refusals).
        let text = h.metrics.render()
        #expect(text.contains("gpumon_gate_refusals_total{address=\"0000:01:00.0\",reason=\"not-ready\"} 1"), "\(text)")
    }
}

private func addresses(_ texts: [String]) throws -> [PCIAddress] { try texts.map { try PCIAddress(parsing: $0) } }
