# lab-group: libvirt
# lab-needs: gpumon
# lab-timeout: 300
#
# Destroy, then start again at once (the way a wedged GPU's VM is restarted): the second run's
# stop is a new stop (VM-run identity), reset and counted, however close to the first.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
. "$LAB_REPO/lab/guest/libvirt-lib.sh"
lab_need_gpumon
lv_setup || fatal "libvirtd runs"
gd_alive || { lv_gd_restart || fatal "daemon runs"; }
lv_define lab-quick no
gd_mark
lv_vm_start lab-quick; check_eq "virsh start (run 1)" "$?" 0 || echo "$LV_START_ERR"
lv_vm_destroy lab-quick; check_eq "virsh destroy (run 1)" "$?" 0
lv_vm_start lab-quick; check_eq "virsh start at once (run 2)" "$?" 0 || echo "$LV_START_ERR"
note "run 2 started $LV_START_MS ms after the destroy returned"
lv_vm_destroy lab-quick; check_eq "virsh destroy (run 2)" "$?" 0
check_cmd "two resets" wait_until 60 eval '[ "$(gd_since | grep -c "^NOTICE reset [a-z-]* succeeded")" -ge 2 ]'
sleep 2
gd_count_resets n; check_eq "exactly two resets, one per run" "$n" 2
check_cmd "both on vfio-pci" wait_until 10 gd_both_vfio
gd_untouched
