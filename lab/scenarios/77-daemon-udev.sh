# lab-group: daemon
# lab-needs: gpumon
# lab-timeout: 150
#
# The udev rule (rules.d/60-gpumon.rules.in, @BINDIR@ = the binary's directory) with the
# real systemd-udevd: at `add` it sets driver_override = vfio-pci on the selected
# functions (udevadm trigger, and the new device objects of a remove + rescan) and never
# on the boot VGA with the same IDs. Then the daemon, which now listens to udev's events
# (uevent_source auto), brings a rescanned slot back to vfio-pci.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon   # the starting point: both functions on vfio-pci, the config written
gd_stop   # the rule alone first: nothing else writes driver_override
check_cmd "systemd-udevd runs" lab_udevd_start
sed "s|@BINDIR@|${GPUMON_BIN%/*}|g" "$LAB_REPO/rules.d/60-gpumon.rules.in" >/run/udev/rules.d/60-gpumon.rules
check_cmd "udevadm control --reload" udevadm control --reload
check_eq "udev-match selects the GPU" "$("$GPUMON_BIN" udev-match $GPU)" "GPUMON_DRIVER=vfio-pci"
check_eq "udev-match does not select the boot VGA" "$("$GPUMON_BIN" udev-match $VGA)" ""

# udevadm trigger --action=add: the rule runs for the GPU and the boot VGA
echo >/sys/bus/pci/devices/$GPU/driver_override
check_eq "GPU override cleared by hand (still on vfio-pci)" "$(pci_attr $GPU driver_override) $(pci_driver $GPU)" "(null) vfio-pci"
check_cmd "udevadm trigger --action=add GPU and boot VGA" udevadm trigger --action=add --settle /sys/bus/pci/devices/$GPU /sys/bus/pci/devices/$VGA
check_eq "the rule set driver_override on the GPU" "$(pci_attr $GPU driver_override)" vfio-pci
check_eq "the rule left the boot VGA alone" "$(pci_driver $VGA) $(pci_attr $VGA driver_override)" "bochs-drm (null)"

# remove + rescan, daemon not running: the rule sets driver_override on the new objects
lab_uevents_start "$LAB_TMP/udev-events" udev
echo 1 >/sys/bus/pci/devices/$AUDIO/remove
echo 1 >/sys/bus/pci/devices/$GPU/remove
echo 1 >/sys/bus/pci/devices/$GPU_BRIDGE/rescan
check_cmd "udev settles" udevadm settle --timeout=30
wait_until 10 grep -q '^GPUMON_DRIVER=vfio-pci' "$LAB_TMP/udev-events"
sleep 0.5
lab_uevents_stop
check_eq "driver_override on the new device objects, set by the rule" "$(pci_attr $GPU driver_override) $(pci_attr $AUDIO driver_override)" "vfio-pci vfio-pci"
n=$(awk '/^ACTION=add/{a=1} /^$/{a=0} a && /^GPUMON_DRIVER=vfio-pci/{n++} END{print n+0}' "$LAB_TMP/udev-events")
check_eq "udevadm monitor: both add events carry GPUMON_DRIVER=vfio-pci" "$n" 2
after="$(pci_driver $GPU) $(pci_driver $AUDIO)"
note "drivers after the rescan with the rule and no daemon: $after (the kernel probes at device_add, before udevd sees the event)"
check_match "without the daemon the functions are on the host driver or vfio-pci" "$after" '^(bochs-drm|vfio-pci) (snd_hda_intel|vfio-pci)$'

# the daemon with udev as its source
gd_mark
gd_start || fatal "daemon runs"
check_cmd "daemon moves both to vfio-pci" wait_until 20 gd_both_vfio
gd_status_json
check_eq "the daemon listens to udev" "$(jq -r .daemon.uevent_source $LAB_TMP/out.json)" udev
echo 1 >/sys/bus/pci/devices/$AUDIO/remove
echo 1 >/sys/bus/pci/devices/$GPU/remove
echo 1 >/sys/bus/pci/devices/$GPU_BRIDGE/rescan
check_cmd "rescan with rule + daemon: both on vfio-pci" wait_until 20 gd_both_vfio
check_eq "driver_override" "$(pci_attr $GPU driver_override) $(pci_attr $AUDIO driver_override)" "vfio-pci vfio-pci"
gd_stop
udevadm control --exit 2>/dev/null
gd_untouched
gd_since
