# lab-group: libvirt
# lab-timeout: 300
#
# The real libvirt 9.0.0 and QEMU 7.2 run in the guest: libvirtd starts without systemd,
# a TCG domain with 01:00.0 and 01:00.1 as managed='no' hostdevs (pre-bound to vfio-pci)
# starts, its QEMU holds two /dev/vfio descriptors (container + group), the hook is called
# for prepare/start/started/stopped/release, and `virsh destroy` stops it, the domain log
# ending with `shutting down, reason=destroyed`. The hook does not call gpumon here: this
# proves the lab's VMM before the 9x gpumon scenarios rely on it.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
. "$LAB_REPO/lab/guest/libvirt-lib.sh"
modprobe vfio-pci
pci_bind_vfio $GPU; pci_bind_vfio $AUDIO
check_eq "both on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
lv_hook_install; lv_hook_gpumon off
lv_start || fatal "libvirtd runs"
virsh version
lv_define lab-smoke no
: >"$LV_RUN/hook-calls"
lv_vm_start lab-smoke; check_eq "virsh start (managed=no) exits 0" "$?" 0 || { echo "$LV_START_ERR"; tail -30 $LV_QEMU_LOGDIR/lab-smoke.log; }
note "virsh start took $LV_START_MS ms"
p=$(lv_qemu_pid lab-smoke)
check_ne "QEMU pid recorded in /run/libvirt/qemu" "${p:-none}" none
check_eq "QEMU holds two /dev/vfio descriptors" "$(lv_vfio_fds "$p")" 2
lv_vm_destroy lab-smoke; check_eq "virsh destroy exits 0" "$?" 0
note "virsh destroy took $LV_DESTROY_MS ms"
check_eq "hook calls of one run" "$(cut -d' ' -f3,4 $LV_RUN/hook-calls | tr '\n' ,)" "prepare begin,start begin,started begin,stopped end,release end,"
check_eq "both still on vfio-pci (managed=no)" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
tail -3 $LV_QEMU_LOGDIR/lab-smoke.log
check_cmd "domain log: shutting down, reason=destroyed" grep -q 'shutting down, reason=destroyed' $LV_QEMU_LOGDIR/lab-smoke.log
gd_untouched
lv_hook_gpumon on
