# lab-group: lifecycle
# lab-needs: gpumon
# lab-timeout: 90
#
# A device in use is not reset: a "VM" (a process holding /dev/vfio/<group> open) runs;
# status says in-use; `gpumon reset` is refused; a hook stop for it waits up to 10 s for
# the group, then raises in-use and resets nothing. The VM keeps running for
# stop-process-exit.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon "$GD_RESET_TOML"
"$GPUMON_BIN" clear $GPU $AUDIO >/dev/null
sleep 1.1   # past dedupe_window of the previous scenario's stop
gd_vm_start || fatal "VM started"
echo "$GD_VM_PID" >"$GD_DIR/vm.pid"
check_cmd "the daemon sees the holder" wait_until 10 eval 'gpumon_json status --json; [ "$(jdev $GPU state)" = in-use ]'
gpumon_json status --json   # (check_cmd ran the loop in a subshell)
check_eq "status: GPU in-use" "$(jdev $GPU state)" in-use
check_contains "status note names the VM's pid" "$(jdev $GPU note)" "$GD_VM_PID"
gd_mark
check_rc "gpumon reset of a device in use is refused" 1 "$GPUMON_BIN" reset $GPU
gd_alerts_count u0 in-use
lab_uevents_start "$LAB_TMP/uevents"
gd_hook_stop lab-vm-busy $GPU $AUDIO
check_cmd "in-use alert after the group stayed held" wait_until 20 grep -q "^in-use" $GD_ALERTS
lab_uevents_stop
f=$(gd_since_file)
gd_count_resets n; check_eq "no reset" "$n" 0
check_cmd "no reset attempted at all" eval "! grep -q '^NOTICE resetting' $f"
check_cmd "the VM still holds the group" kill -0 $GD_VM_PID
gd_events ev "$LAB_TMP/uevents" unbind; check_eq "no uevent for the slot" "$ev" 0
check_eq "both on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
gd_untouched
cat "$f"
