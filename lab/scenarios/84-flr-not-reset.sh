# lab-group: lifecycle
# lab-needs: gpumon
# lab-timeout: 90
#
# An FLR-capable device (the nvme, `flr bus`) selected by a second [[gpu]] rule
# (reset_after_stop auto) is not reset after a stop when healthy. The nvme goes back to
# its driver at the end.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon "$GD_RESET_TOML"
check_match "nvme reset_method offers flr" "$(pci_attr $NVME reset_method)" '(^| )flr( |$)'
GD_GPU_EXTRA="[[gpu]]
addresses = [\"$NVME\"]" gd_config "$GD_RESET_TOML"
gd_mark
kill -HUP $GD_PID
check_cmd "config reloaded" wait_until 10 eval 'gd_since | grep -q "config reloaded"'
check_cmd "the nvme is claimed on vfio-pci" wait_until 20 gd_driver_is $NVME vfio-pci
GD_NVME_SELECTED=1
gpumon_json status --json
check_eq "status: nvme ok, has_flr" "$(jdev $NVME state) $(jdev $NVME has_flr)" "ok true"
gd_mark
gd_hook_stop lab-vm-nvme $NVME
check_cmd "the stop is handled" wait_until 20 eval 'gd_since | grep -q "no reset:\|^NOTICE resetting"'
sleep 1
f=$(gd_since_file)
check_cmd "release of the nvme slot from the hook" grep -q 'VM released the slot.*device=0000:02:00.*source=hook' "$f"
check_cmd "decision: no reset (healthy, FLR)" grep -q '^NOTICE no reset:' "$f"
check_cmd "no reset attempted" eval "! grep -q '^NOTICE resetting\|^NOTICE reset ' $f"
check_eq "nvme still on vfio-pci" "$(pci_driver $NVME)" vfio-pci
# back to the lab config; the nvme back to nvme (by hand: gpumon leaves unselected devices alone)
gd_config "$GD_RESET_TOML"
gd_mark; kill -HUP $GD_PID
wait_until 10 eval 'gd_since | grep -q "config reloaded"'
echo >/sys/bus/pci/devices/$NVME/driver_override
echo $NVME >/sys/bus/pci/drivers/vfio-pci/unbind
echo $NVME >/sys/bus/pci/drivers_probe
check_cmd "nvme back on nvme, gpumon does not fight (unselected now)" eval 'sleep 1; gd_driver_is $NVME nvme'
GD_NVME_SELECTED=
gd_untouched
cat "$f"
