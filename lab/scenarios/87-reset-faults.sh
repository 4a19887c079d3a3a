# lab-group: lifecycle
# lab-needs: gpumon
# lab-timeout: 480
#
# Reset safety under faults, on the real kernel (issue 10). Runs after kill9-reset, which
# leaves vfio-pci registered before bochs and snd_hda_intel (remove-rescan allowed).
# 1. companions = false: only the GPU function is selected. A slot-wide reset (slot,
#    remove-rescan) would also act on the audio function: refused with the reason, and
#    the audio function gets no uevent at all.
# 2. A remove-rescan whose second remove fails, repaired in-process. The failing step is
#    made by strace (-P the GPU's `remove` file, -e inject=openat:error=EIO): the audio
#    function is already removed when the GPU's remove fails. gpumon rescans the bridge,
#    removes the dynamic IDs and alerts at once: both end on vfio-pci, no journal, no
#    host-driver bind.
# 3. A corrupt resets.json: the daemon keeps it aside (resets.json.corrupt-<time>),
#    alerts, and refuses automatic resets of the GPU — across a restart too — until
#    `gpumon clear`.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon

# --- 1. companions = false ---------------------------------------------------------------
gd_stop
gd_config "$GD_RESET_TOML"
sed -i 's/^companions = true$/companions = false/' /etc/gpumon/gpumon.toml
gd_start || fatal "daemon runs with companions = false"
"$GPUMON_BIN" clear $GPU >/dev/null
lab_uevents_start "$LAB_TMP/uevents-comp"
for m in slot remove-rescan; do
  out=$("$GPUMON_BIN" reset $GPU --method $m 2>&1); rc=$?
  echo "$out"
  check_eq "reset --method $m with companions = false: refused" "$rc" 1
  check_contains "... naming the unselected audio function" "$out" "would also act on $AUDIO"
done
sleep 0.5
lab_uevents_stop
n=0
while IFS= read -r l; do [ "$l" = "PCI_SLOT_NAME=$AUDIO" ] && n=$((n + 1)); done <"$LAB_TMP/uevents-comp"
check_eq "no uevent at all for $AUDIO" "$n" 0
check_cmd "both still present" eval 'pci_exists $GPU && pci_exists $AUDIO'

# --- 2. a failing step repaired in-process -------------------------------------------------
gd_stop
gd_config "$GD_RESET_TOML"
gd_start || fatal "daemon runs with companions = true"
"$GPUMON_BIN" clear $GPU $AUDIO >/dev/null
check_cmd "both on vfio-pci" wait_until 20 gd_both_vfio
gpu_remove=/sys/bus/pci/devices/$GPU/remove
strace -qq -f -o "$LAB_TMP/strace.out" -p "$GD_PID" -P "$gpu_remove" -e trace=openat -e inject=openat:error=EIO &
spid=$!
wait_until 10 eval 'grep -q "^TracerPid:[[:space:]]*[1-9]" /proc/$GD_PID/status' || fatal "strace attached"
gd_mark
gd_alerts_count f0 reset-failed
lab_uevents_start "$LAB_TMP/uevents-fail"
out=$("$GPUMON_BIN" reset $GPU --method remove-rescan 2>&1); rc=$?
echo "$out"
# strace detaches from every thread of the daemon on SIGTERM; under load that can take a while
kill $spid; wait_until 30 eval '! kill -0 $spid' || { note "strace still attached after 30 s: SIGKILL"; kill -KILL $spid; }
wait $spid 2>/dev/null
check_eq "the reset reports a failure" "$rc" 1
check_match "... and the in-process repair" "$out" "repaired in-process: rescanned .*removed dynamic IDs"
check_cmd "both on vfio-pci right after" gd_both_vfio
check_cmd "no journal left" test ! -e "$GD_STATE/reset-journal.json"
check_eq "driver_override on both" "$(pci_attr $GPU driver_override) $(pci_attr $AUDIO driver_override)" "vfio-pci vfio-pci"
check_cmd "one reset-failed alert" wait_until 10 eval 'gd_alerts_count f1 reset-failed; [ $((f1 - f0)) -eq 1 ]'
sleep 0.5
lab_uevents_stop
gd_host_binds hb "$LAB_TMP/uevents-fail"; check_eq "no host-driver bind uevent" "$hb" 0
grep -c EIO "$LAB_TMP/strace.out" | while read -r c; do note "strace injected EIO $c time(s)"; done
gd_untouched

# --- 3. a corrupt resets.json keeps the GPU quarantined across a restart ---------------------
gd_stop
printf '{"history": {"0000:01:00.0": [17' >"$GD_STATE/resets.json"
gd_alerts_count q0 quarantined
gd_mark
gd_start || fatal "daemon starts with a corrupt resets.json"
# the alert command runs asynchronously: wait for its line
check_cmd "an alert at start" wait_until 10 eval 'gd_alerts_count q1 quarantined; [ $((q1 - q0)) -eq 1 ]'
check_cmd "kept aside as resets.json.corrupt-<time>" eval 'ls $GD_STATE/resets.json.corrupt-* >/dev/null'
check_cmd "the daemon log names it" eval 'gd_since | grep -q "not a valid reset history"'
check_cmd "both on vfio-pci (enforcement goes on)" wait_until 20 gd_both_vfio
for round in 1 2; do
  gd_mark
  gd_hook_stop lab-vm-corrupt$round $GPU $AUDIO
  check_cmd "round $round: the stop is refused" wait_until 30 eval 'gd_since | grep -q "^WARNING not resetting 0000:01:00.0: quarantined"'
  gd_count_resets n; check_eq "round $round: no reset" "$n" 0
  [ $round = 1 ] && { gd_stop; gd_start || fatal "daemon restarts"; }
done
out=$("$GPUMON_BIN" clear $GPU 2>&1); echo "$out"
sleep 1.1
gd_mark
gd_hook_stop lab-vm-cleared $GPU $AUDIO
check_cmd "after gpumon clear the stop resets again" wait_until 30 eval 'gd_since | grep -q "^NOTICE reset [a-z-]* succeeded"'
check_cmd "both on vfio-pci" wait_until 20 gd_both_vfio
gd_untouched
