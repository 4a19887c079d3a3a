# lab-group: daemon
# lab-needs: gpumon
# lab-timeout: 90
#
# kill -9 of the daemon, a grab and an unbind while it is down, then a restart (the stale
# socket is still there): the daemon reconciles both functions at start.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon
kill -KILL $GD_PID
wait_until 10 eval '! kill -0 $GD_PID'
check_cmd "the daemon is gone" eval '! kill -0 $GD_PID'
check_cmd "its socket file is left behind" test -S $GD_SOCK
gd_grab $GPU bochs-drm
echo $AUDIO >/sys/bus/pci/drivers/vfio-pci/unbind
echo >/sys/bus/pci/devices/$AUDIO/driver_override
check_eq "while down: GPU on bochs-drm, audio unbound" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "bochs-drm none"
gd_mark
gd_start || fatal "the daemon restarts over the stale socket" "$(gd_since)"
check_cmd "both back on vfio-pci after the restart" wait_until 20 gd_both_vfio
check_eq "driver_override" "$(pci_attr $GPU driver_override) $(pci_attr $AUDIO driver_override)" "vfio-pci vfio-pci"
gd_status_json
check_eq "status via the new daemon: both ok" "$(jq -r .daemon.pid $LAB_TMP/out.json) $(jdev $GPU state) $(jdev $AUDIO state)" "$GD_PID ok ok"
gd_untouched
gd_since
