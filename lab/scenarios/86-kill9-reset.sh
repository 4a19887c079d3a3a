# lab-group: lifecycle
# lab-needs: gpumon
# lab-timeout: 180
#
# remove-rescan, and `kill -9` of the daemon in the middle of one.
# 1. With the lab's coldplug order (bochs and snd_hda_intel registered before vfio-pci)
#    gpumon refuses remove-rescan, naming the drivers.
# 2. The registration-order trick: unbind the boot VGA, rmmod + modprobe bochs (the VGA
#    is rebound), rmmod + modprobe snd_hda_intel: vfio-pci is now the oldest. A
#    remove-rescan reset then ends on vfio-pci, and every bind uevent for the slot
#    names vfio-pci (no host-driver bind, not even for a moment).
# 3. kill -9 between the remove and the rescan: strace delays the daemon's open of the
#    bus's rescan file by 5 s (strace -P PATH -e inject=openat:delay_enter=5s), so once
#    both functions are gone the daemon is parked there; no test hook in gpumon. The
#    journal is left, the functions are missing; the restarted daemon rescans the bridge
#    (reset-repaired) and both end on vfio-pci.
# Last in the group: it changes the module registration order.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_alive || fatal "the lifecycle daemon runs"
"$GPUMON_BIN" clear $GPU $AUDIO >/dev/null

out=$("$GPUMON_BIN" reset $GPU --method remove-rescan 2>&1); rc=$?
check_eq "remove-rescan refused with the coldplug order" "$rc" 1
check_match "... naming the earlier host drivers" "$out" 'refused: .*(bochs|snd_hda_intel).*registered before vfio-pci'
check_eq "refused without touching anything" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"

# --- the registration-order trick ---------------------------------------------------
bochs_mod=none
for m in bochs bochs_drm; do [ -d /sys/module/$m ] && bochs_mod=$m; done
note "module of the bochs-drm driver: $bochs_mod"
echo $VGA >/sys/bus/pci/drivers/bochs-drm/unbind
check_cmd "rmmod $bochs_mod" rmmod $bochs_mod
check_cmd "modprobe $bochs_mod" modprobe $bochs_mod
check_eq "boot VGA rebound to bochs-drm" "$(pci_driver $VGA)" bochs-drm
check_cmd "rmmod snd_hda_intel" rmmod snd_hda_intel
check_cmd "modprobe snd_hda_intel" modprobe snd_hda_intel
check_eq "the GPU functions stayed on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
note "/proc/modules, newest first: $(awk '{print $1}' /proc/modules | grep -E '^(vfio_pci|bochs|bochs_drm|snd_hda_intel)$' | tr '\n' ' ')"

# --- a full remove-rescan reset: no host-driver bind -----------------------------------
gd_mark
lab_uevents_start "$LAB_TMP/uevents"
out=$("$GPUMON_BIN" reset $GPU --method remove-rescan 2>&1); rc=$?
echo "$out"
check_eq "gpumon reset --method remove-rescan exit status" "$rc" 0
check_contains "it reports the method ok" "$out" "remove-rescan: ok"
check_eq "both on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
check_eq "driver_override on the new objects" "$(pci_attr $GPU driver_override) $(pci_attr $AUDIO driver_override)" "vfio-pci vfio-pci"
wait_until 10 eval "grep -q 'DRIVER=vfio-pci' $LAB_TMP/uevents"
sleep 1
lab_uevents_stop
gd_events rm "$LAB_TMP/uevents" remove; gd_events ad "$LAB_TMP/uevents" add; gd_events bd "$LAB_TMP/uevents" bind
check_eq "uevents for the slot: remove, add, bind of both functions" "$rm $ad $bd" "2 2 2"
gd_host_binds hb "$LAB_TMP/uevents"; check_eq "no host-driver bind uevent during the remove-rescan" "$hb" 0
check_cmd "no journal left" test ! -e "$GD_STATE/reset-journal.json"
gd_untouched

# --- kill -9 between remove and rescan --------------------------------------------------
# Deterministic by real means: strace holds the daemon 5 s on entering the open(2) of the bus's rescan file
# (-P: only that path; the injection applies to no other call), so once both functions are gone the daemon
# is parked between the remove and the rescan, and the kill lands there every time.
bus_rescan=$(readlink -f /sys/bus/pci/devices/$GPU_BRIDGE)/pci_bus/$(ls $(readlink -f /sys/bus/pci/devices/$GPU_BRIDGE)/pci_bus | head -1)/rescan
note "bus rescan file: $bus_rescan"
"$GPUMON_BIN" clear $GPU $AUDIO >/dev/null
strace -qq -f -o /dev/null -p "$GD_PID" -P "$bus_rescan" -e trace=openat -e inject=openat:delay_enter=5s &
spid=$!
# strace is attached once the tracee's status names a tracer
wait_until 10 eval 'grep -q "^TracerPid:[[:space:]]*[1-9]" /proc/$GD_PID/status' || fatal "strace attached"
lab_uevents_start "$LAB_TMP/uevents-kill"
"$GPUMON_BIN" reset $GPU --method remove-rescan >"$LAB_TMP/reset-killed.out" 2>&1 &
rpid=$!
check_cmd "both functions removed (the daemon is held at the rescan)" wait_until 10 eval '! pci_exists $GPU && ! pci_exists $AUDIO'
kill -KILL $GD_PID
wait $rpid 2>/dev/null
wait $spid 2>/dev/null
check_cmd "still missing after the kill (no rescan happened)" eval '! pci_exists $GPU && ! pci_exists $AUDIO'
check_cmd "the reset journal is left behind" test -e "$GD_STATE/reset-journal.json"
note "journal: $(cat $GD_STATE/reset-journal.json 2>/dev/null)"
note "missing after the kill: GPU $(pci_exists $GPU && echo present || echo missing), audio $(pci_exists $AUDIO && echo present || echo missing)"
gd_mark
gd_start || fatal "daemon restarts after kill -9"
check_cmd "reset-repaired alert" wait_until 20 grep -q "^reset-repaired" $GD_ALERTS
check_cmd "both back on vfio-pci" wait_until 20 gd_both_vfio
check_cmd "journal removed" test ! -e "$GD_STATE/reset-journal.json"
wait_until 5 eval "grep -c 'DRIVER=vfio-pci' $LAB_TMP/uevents-kill | grep -q 2"
sleep 0.5
lab_uevents_stop
gd_host_binds hb "$LAB_TMP/uevents-kill"; check_eq "no host-driver bind uevent during the cut reset and the repair" "$hb" 0
f=$(gd_since_file)
grep 'reset-repaired\|interrupted' "$f"
check_cmd "the repair rescanned the bridge's bus and removed the dynamic IDs" grep -q 'rescanned .*removed dynamic IDs' "$f"
gd_status_json
check_eq "status: both ok" "$(jdev $GPU state) $(jdev $AUDIO state)" "ok ok"
gd_stop
gd_untouched
cat "$f"
