# lab-group: libvirt
# lab-needs: gpumon
# lab-timeout: 300
#
# gpumon with the real libvirt: a managed='no' domain starts (the gate answers "ready" at
# prepare begin) and is destroyed: exactly one slot reset, the GPU ends on vfio-pci, and the
# stop was seen by all three signals (domain log, hook, process exit), each naming the domain
# (the process signal maps QEMU's PID to the domain through /run/libvirt/qemu/<domain>.pid).
. "$LAB_REPO/lab/guest/daemon-lib.sh"
. "$LAB_REPO/lab/guest/libvirt-lib.sh"
lab_need_gpumon
lv_setup || fatal "libvirtd runs"
lv_gd_restart || fatal "daemon runs"
check_cmd "both on vfio-pci (claimed by gpumon)" wait_until 30 gd_both_vfio
lv_define lab-no no
lv_run_once lab-no
lv_sources_seen lab-no
f=$(gd_since_file)
check_cmd "the gate was asked at prepare begin" grep -q 'prepare begin' "$LV_RUN/hook-calls"
check_cmd "the process signal names the domain" grep -Eq 'VM process (opened its group|exited).*(domain=lab-no|process=lab-no)' "$f"
gd_untouched
grep -E 'VM released|same stop|reset|gate|VM process' "$f"
