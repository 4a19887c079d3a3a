# lab-group: libvirt
# lab-needs: gpumon
# lab-timeout: 300
#
# managed='yes' with the GPU already on vfio-pci (gpumon pre-binds): libvirt leaves it there
# at destroy; exactly one reset per stop, no host-driver bind, no grab alert.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
. "$LAB_REPO/lab/guest/libvirt-lib.sh"
lab_need_gpumon
lv_setup || fatal "libvirtd runs"
gd_alive || { lv_gd_restart || fatal "daemon runs"; }
check_cmd "both on vfio-pci" wait_until 30 gd_both_vfio
lv_define lab-yes yes
lab_uevents_start "$LAB_TMP/uevents"
lv_run_once lab-yes
lab_uevents_stop
lv_sources_seen lab-yes
gd_host_binds hb "$LAB_TMP/uevents"; check_eq "no host-driver bind uevent for the slot" "$hb" 0
f=$(gd_since_file)
check_cmd "no host-driver alert" bash -c "! grep -q 'host-driver' '$f'"
gd_untouched
