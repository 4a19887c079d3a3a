# lab-group: lifecycle
# lab-needs: gpumon
# lab-timeout: 90
#
# Hook-driven stop: hooks/qemu (which execs `gpumon hook`) is called as libvirt does on
# `stopped end` then `release end`, with a domain XML passing both functions through. One
# reset (the second call is the same stop), verified on vfio-pci, no host-driver bind.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon "$GD_RESET_TOML"
"$GPUMON_BIN" clear $GPU $AUDIO >/dev/null
# libvirt calls the hook twice per stop (stopped end, release end); under TCG one hook run
# takes ~1.5 s, longer than the group's 1 s dedupe_window: use the default 5 s here.
gd_config "${GD_RESET_TOML/dedupe_window = \"1s\"/dedupe_window = \"5s\"}"
gd_mark; kill -HUP $GD_PID
check_cmd "config with dedupe_window 5s reloaded" wait_until 10 eval 'gd_since | grep -q "config reloaded"'
grep dedupe /etc/gpumon/gpumon.toml
gd_mark
lab_uevents_start "$LAB_TMP/uevents"
t0=${EPOCHREALTIME/./}
gd_hook_stop lab-vm-hook $GPU $AUDIO; rc=$?
t1=${EPOCHREALTIME/./}
check_eq "hook (stopped end) exits 0" "$rc" 0
note "hook ran in $(( (t1 - t0) / 1000 )) ms"
GPUMON_BIN=$GPUMON_BIN "$LAB_REPO/hooks/qemu" lab-vm-hook release end - <"$LAB_TMP/hook.xml"
check_eq "hook (release end) exits 0" "$?" 0
check_cmd "a reset after the hook" wait_until 30 eval 'gd_since | grep -q "^NOTICE reset .* succeeded\|reset-failed"'
sleep 1.5
lab_uevents_stop
f=$(gd_since_file)
check_cmd "release came from the hook" grep -q '^NOTICE VM released the slot .*domain=lab-vm-hook.*source=hook' "$f"
check_cmd "the second hook call is the same stop" grep -q 'same stop, already handled.*source=hook' "$f"
gd_count_resets n; check_eq "exactly one reset" "$n" 1
check_eq "both on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
gd_host_binds hb "$LAB_TMP/uevents"; check_eq "no host-driver bind uevent for the slot" "$hb" 0
gd_config "$GD_RESET_TOML"; kill -HUP $GD_PID
wait_until 10 eval 'gd_since | grep -q "config reloaded"'
gd_untouched
cat "$f"
