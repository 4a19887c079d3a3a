# lab-group: libvirt
# lab-needs: gpumon
# lab-timeout: 300
#
# libvirtd restarted while a VM runs (QEMU keeps running): the stop after the restart is still
# handled, exactly once.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
. "$LAB_REPO/lab/guest/libvirt-lib.sh"
lab_need_gpumon
lv_setup || fatal "libvirtd runs"
gd_alive || { lv_gd_restart || fatal "daemon runs"; }
lv_define lab-restart no
gd_mark
lv_vm_start lab-restart; check_eq "virsh start" "$?" 0 || echo "$LV_START_ERR"
p=$(lv_qemu_pid lab-restart)
lv_stop_libvirtd; check_cmd "libvirtd stopped" bash -c '! pgrep -x libvirtd'
check_cmd "QEMU still runs" kill -0 "${p:-0}"
lv_start || fatal "libvirtd restarted"
check_cmd "libvirtd reconnected to the domain" wait_until 30 eval 'virsh domstate lab-restart | grep -q running'
lv_vm_destroy lab-restart; check_eq "virsh destroy after the restart" "$?" 0
check_cmd "a reset" lv_wait_reset 60
sleep 2
gd_count_resets n; check_eq "exactly one reset" "$n" 1 || gd_since
grep -E ' (reconnect|stopped|release) ' "$LV_RUN/hook-calls"
check_cmd "both on vfio-pci" wait_until 10 gd_both_vfio
gd_untouched
