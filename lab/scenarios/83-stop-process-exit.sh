# lab-group: lifecycle
# lab-needs: gpumon
# lab-timeout: 90
#
# Process-exit stop: the VM process holding /dev/vfio/<group> is killed (no log, no
# hook); the daemon learns of the exit from the process-events connector and resets the
# slot once, verified on vfio-pci, without a host-driver bind.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon "$GD_RESET_TOML"
"$GPUMON_BIN" clear $GPU $AUDIO >/dev/null
GD_VM_PID=; [ -e "$GD_DIR/vm.pid" ] && read -r GD_VM_PID <"$GD_DIR/vm.pid"
if [ -z "$GD_VM_PID" ] || ! kill -0 "$GD_VM_PID" 2>/dev/null; then
  gd_vm_start || fatal "VM started"
  wait_until 10 eval 'gpumon_json status --json; [ "$(jdev $GPU state)" = in-use ]'
fi
sleep 1.1   # past dedupe_window
gd_mark
lab_uevents_start "$LAB_TMP/uevents"
kill -KILL $GD_VM_PID
check_cmd "a reset after the VM process exited" wait_until 30 eval 'gd_since | grep -q "^NOTICE reset .* succeeded\|reset-failed"'
sleep 1.5
lab_uevents_stop
f=$(gd_since_file)
check_cmd "the daemon saw the exit of the VM's own process ($GD_VM_PID)" grep -Eq "VM process exited.*([^0-9]|^)$GD_VM_PID([^0-9]|$)" "$f"
check_cmd "release from the process-exit signal" grep -q '^NOTICE VM released the slot .*source=process' "$f"
gd_count_resets n; check_eq "exactly one reset" "$n" 1
check_eq "both on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
gd_host_binds hb "$LAB_TMP/uevents"; check_eq "no host-driver bind uevent for the slot" "$hb" 0
gd_status_json
check_eq "status: both ok" "$(jdev $GPU state) $(jdev $AUDIO state)" "ok ok"
rm -f "$GD_DIR/vm.pid"
gd_untouched
cat "$f"
