# lab-group: daemon
# lab-needs: gpumon
# lab-timeout: 90
#
# A host-driver grab by hand (unbind vfio-pci, clear driver_override, bind bochs-drm) is
# corrected: back on vfio-pci, exactly one host-driver-grab alert (alert command, daemon
# log, status, metrics) naming the driver that bound; the same for the audio function.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon
gd_mark
gd_alerts_count a0 host-driver-grab
gd_grab $GPU bochs-drm
t0=${EPOCHREALTIME/./}
wait_until 20 gd_driver_is $GPU vfio-pci
t1=${EPOCHREALTIME/./}
check_eq "GPU back on vfio-pci after a grab by bochs-drm" "$(pci_driver $GPU)" vfio-pci
note "grab corrected $(( (t1 - t0) / 1000 )) ms after the bind write returned"
check_eq "driver_override restored" "$(pci_attr $GPU driver_override)" vfio-pci
wait_until 5 test "$(grep -c '^host-driver-grab' $GD_ALERTS 2>/dev/null)" -gt "$a0"
sleep 1   # a second alert, if any, would come now
gd_alerts_count a1 host-driver-grab
check_eq "exactly one host-driver-grab alert (alert command)" "$((a1 - a0))" 1
check_eq "the alert names the device and both drivers" "$(grep '^host-driver-grab' $GD_ALERTS | tail -1)" "host-driver-grab $GPU vfio-pci bochs-drm"
f=$(gd_since_file)
gd_log_count n 'alert=host-driver-grab' "$f"
check_eq "exactly one host-driver-grab alert line in the daemon log" "$n" 1
check_cmd "the log line carries the MESSAGE_ID of host-driver-grab" grep -q 'alert=host-driver-grab.*device=0000:01:00.0' "$f"
gd_status_json
check_eq "status: GPU ok" "$(jdev $GPU state)" ok
check_eq "status: last alert is the grab" "$(jq -r '.daemon.last_alerts[-1] | "\(.kind) \(.address)"' $LAB_TMP/out.json)" "host-driver-grab $GPU"
wait_until 3 grep -q "gpumon_host_driver_grabs_total{address=\"$GPU\",driver=\"bochs-drm\"}" "$GD_PROM"
gd_prom_value v "gpumon_host_driver_grabs_total{address=\"$GPU\",driver=\"bochs-drm\"}"
check_eq "metrics: one grab by bochs-drm" "$v" 1

# the audio function
gd_grab $AUDIO snd_hda_intel
check_cmd "audio back on vfio-pci after a grab by snd_hda_intel" wait_until 20 gd_driver_is $AUDIO vfio-pci
wait_until 5 grep -q "^host-driver-grab $AUDIO" $GD_ALERTS
sleep 1
gd_alerts_count a2 host-driver-grab
check_eq "exactly one more host-driver-grab alert" "$((a2 - a1))" 1
check_eq "it names snd_hda_intel" "$(grep '^host-driver-grab' $GD_ALERTS | tail -1)" "host-driver-grab $AUDIO vfio-pci snd_hda_intel"
check_eq "both on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
gd_untouched
gd_since
