# lab-group: daemon
# lab-needs: gpumon
# lab-timeout: 90
#
# Remove + rescan of the GPU slot (both functions): the kernel gives the new device
# objects to the host drivers (no udev rule here); the daemon moves them back to
# vfio-pci, with driver_override, in the slot's new IOMMU group.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon
gd_mark
g0=$(pci_group $GPU)
lab_uevents_start "$LAB_TMP/uevents"
echo 1 >/sys/bus/pci/devices/$AUDIO/remove
echo 1 >/sys/bus/pci/devices/$GPU/remove
check_cmd "both functions gone" test ! -e /sys/bus/pci/devices/$GPU -a ! -e /sys/bus/pci/devices/$AUDIO
echo 1 >/sys/bus/pci/devices/$GPU_BRIDGE/rescan
check_cmd "both back on vfio-pci after the rescan" wait_until 20 gd_both_vfio
check_eq "driver_override on the new device objects" "$(pci_attr $GPU driver_override) $(pci_attr $AUDIO driver_override)" "vfio-pci vfio-pci"
g1=$(pci_group $GPU)
note "IOMMU group $g0 before, $g1 after"
wait_until 10 grep -q "^UDEV\|^KERNEL.*bind.*0000:01:00.1" "$LAB_TMP/uevents"
sleep 0.5
lab_uevents_stop
gd_host_binds hb "$LAB_TMP/uevents"
note "host-driver binds seen (expected without the udev rule: the kernel binds the host driver when it adds the device): $hb"
gd_events vb "$LAB_TMP/uevents" bind
check_cmd "uevents: the functions were bound again (bind events: $vb)" test "$vb" -ge 2
gd_status_json
check_eq "status: both ok" "$(jdev $GPU state) $(jdev $AUDIO state)" "ok ok"
check_eq "status: the new group" "$(jdev $GPU iommu_group)" "$g1"
check_device_matches_sysfs $GPU
gd_untouched
gd_since
