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
# 3. kill -9 between the remove and the rescan (the daemon runs with the test hook
#    GPUMON_TEST_PAUSE_BEFORE_RESCAN_MS=3000; the scenario kills once the audio function,
#    removed first, is gone): the journal is left, the functions are missing;
#    the restarted daemon rescans the bridge (reset-repaired) and both end on vfio-pci.
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
landed=0
for attempt in 1 2 3; do
  # A documented test hook holds the reset 3 s between remove and rescan, so the kill lands there every time.
  gd_stop
  export GPUMON_TEST_PAUSE_BEFORE_RESCAN_MS=3000
  gd_start || fatal "daemon runs"
  unset GPUMON_TEST_PAUSE_BEFORE_RESCAN_MS
  sleep 1.1
  "$GPUMON_BIN" clear $GPU $AUDIO >/dev/null
  lab_uevents_start "$LAB_TMP/uevents-kill"
  "$GPUMON_BIN" reset $GPU --method remove-rescan >"$LAB_TMP/reset-killed.out" 2>&1 &
  rpid=$!
  k=0
  # gpumon removes 01:00.1 first, then 01:00.0, then rescans: kill as soon as the first is gone
  while [ -e /sys/bus/pci/devices/$AUDIO ] && [ $k -lt 3000000 ]; do k=$((k + 1)); done
  kill -KILL $GD_PID
  wait $rpid 2>/dev/null
  sleep 0.3
  if [ ! -e /sys/bus/pci/devices/$GPU ] || [ ! -e /sys/bus/pci/devices/$AUDIO ]; then landed=1; break; fi
  note "attempt $attempt: the kill came after the rescan (journal: $(test -e $GD_STATE/reset-journal.json && echo left || echo gone)); again"
  lab_uevents_stop
  gd_start || fatal "daemon restarts"
  check_cmd "after attempt $attempt: both on vfio-pci" wait_until 20 gd_both_vfio
done
check_eq "kill -9 landed between the remove and the rescan (attempts: $attempt)" "$landed" 1
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
