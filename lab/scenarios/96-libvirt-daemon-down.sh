# lab-group: libvirt
# lab-needs: gpumon
# lab-timeout: 300
#
# gpumon stopped: the hook cannot ask, and with the default gate_when_down = "allow" the start
# goes ahead (gpumon being down never blocks VM starts). Then the process-exit signal alone:
# the hook does not call gpumon and the domain logs are not watched; the restarted daemon
# still resets the slot once when the VM is destroyed, naming the domain.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
. "$LAB_REPO/lab/guest/libvirt-lib.sh"
lab_need_gpumon
lv_setup || fatal "libvirtd runs"
gd_alive && gd_stop
lv_define lab-down no
: >"$LV_RUN/hook-calls"
lv_vm_start lab-down; check_eq "virsh start with the daemon stopped" "$?" 0 || echo "$LV_START_ERR"
lv_vm_destroy lab-down; check_eq "virsh destroy" "$?" 0
# process exit alone
lv_hook_gpumon off
mkdir -p /run/lab-libvirt/no-logs
LV_LOGDIRS=/run/lab-libvirt/no-logs lv_gd_restart || fatal "daemon runs"
lv_run_once lab-down
f=$(gd_since_file)
check_cmd "the process signal alone handled it, naming the domain" grep -Eq 'VM released the slot.*domain=lab-down.*source=process|source=process.*domain=lab-down' "$f"
lv_hook_gpumon on
lv_gd_restart || fatal "daemon runs"
gd_untouched
