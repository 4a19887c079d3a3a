# lab-group: libvirt
# lab-needs: gpumon
# lab-timeout: 300
#
# Start on a quarantined GPU: refused, and `virsh start`'s error carries gpumon's one line
# (device, reason, `gpumon clear`). After `gpumon clear` the same start succeeds.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
. "$LAB_REPO/lab/guest/libvirt-lib.sh"
lab_need_gpumon
lv_setup || fatal "libvirtd runs"
gd_alive && gd_stop
# The quarantine a spent budget leaves (state_dir/resets.json), read by the daemon at start.
mkdir -p "$GD_STATE"
echo "{\"history\":{},\"quarantined\":{\"$GPU\":{\"since\":1,\"reason\":\"3 resets within 10m\"}}}" >"$GD_STATE/resets.json"
lv_gd_restart || fatal "daemon runs"
gd_status_json
check_eq "status: quarantined" "$(jdev $GPU state)" quarantined
lv_define lab-q no
lv_vm_start lab-q; rc=$?
check_ne "virsh start on the quarantined GPU fails" "$rc" 0
echo "$LV_START_ERR"
check_contains "the error names the device and the reason" "$LV_START_ERR" "$GPU quarantined: 3 resets within 10m"
check_contains "... and the fix" "$LV_START_ERR" "gpumon clear $GPU"
check_eq "no QEMU left" "$(lv_qemu_pid lab-q)" ""
check_eq "both still on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
check_cmd "gpumon clear" "$GPUMON_BIN" clear $GPU
lv_run_once lab-q
gd_untouched
