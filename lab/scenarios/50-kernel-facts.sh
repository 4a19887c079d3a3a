# lab-group: kernel-facts
# lab-timeout: 90
#
# Kernel behaviour gpumon's design relies on, asserted on the real kernel so that a
# kernel change is caught here (see docs/kernel-notes.md). Mutates bindings, removes
# and rescans devices: boots alone.

VGA=0000:00:02.0 GPU=0000:01:00.0 AUDIO=0000:01:00.1 NVME=0000:02:00.0 NIC=0000:03:00.0
BRIDGE=0000:00:03.0   # the root port above the GPU (bus 01)
dev=/sys/bus/pci/devices

# --- sysfs reset --------------------------------------------------------------------
out=$( { echo 1 >"$dev/$GPU/reset"; } 2>&1 ); rc=$?
check_ne "writing 1 to $GPU/reset fails while its sibling function exists" "$rc" 0
check_match "... with ENOTTY, although reset_method lists 'bus'" "$out" 'Inappropriate ioctl for device'
check_eq "$GPU is still on bochs-drm after the failed reset" "$(pci_driver $GPU)" bochs-drm

out=$( { echo 1 >"$dev/$NVME/reset"; } 2>&1 ); rc=$?
check_eq "writing 1 to $NVME/reset (FLR) succeeds while bound to nvme" "$rc" 0
check_eq "$NVME is still on nvme after the reset" "$(pci_driver $NVME)" nvme

# --- driver_override ------------------------------------------------------------------
echo vfio-pci >"$dev/$GPU/driver_override"
check_eq "driver_override reads back what was written" "$(pci_attr $GPU driver_override)" vfio-pci
check_eq "setting driver_override does not unbind" "$(pci_driver $GPU)" bochs-drm
echo >"$dev/$GPU/driver_override"
check_eq "writing a newline clears driver_override" "$(pci_attr $GPU driver_override)" "(null)"

# --- remove + rescan -------------------------------------------------------------------
lab_uevents_start "$LAB_TMP/uevents"
echo vfio-pci >"$dev/$GPU/driver_override"
echo 1 >"$dev/$GPU/remove"
check_cmd "$GPU is gone after remove" test ! -e "$dev/$GPU"
echo 1 >"$dev/$BRIDGE/rescan"
wait_until 10 test -e "$dev/$GPU/driver"
check_eq "after rescan $GPU is back and the host driver bound it at once" "$(pci_driver $GPU)" bochs-drm
check_eq "after rescan driver_override is unset (a new struct pci_dev)" "$(pci_attr $GPU driver_override)" "(null)"
check_eq "after rescan $AUDIO (not removed) is still on snd_hda_intel" "$(pci_driver $AUDIO)" snd_hda_intel
# reset methods are probed when a function is added: now its sibling exists, so no "bus".
check_eq "after rescan $GPU has no reset_method attribute" "$(pci_attr $GPU reset_method)" "<absent>"
wait_until 20 grep -q "^KERNEL.* bind .*/$GPU (pci)" "$LAB_TMP/uevents"   # the monitor is asynchronous
lab_uevents_stop
# "KERNEL[12.34] unbind   /devices/pci0000:00/0000:00:03.0/0000:01:00.0 (pci)"
seq=$(while read -r src action path rest; do
        [[ "$src" == KERNEL\[* && "${path##*/}" == "$GPU" ]] && echo "$action"
      done <"$LAB_TMP/uevents")
check_eq "uevents for $GPU, in order" "$(echo $seq)" "unbind remove add bind" || cat "$LAB_TMP/uevents"
check_cmd "the bind uevent names the driver (DRIVER=bochs-drm)" grep -q '^DRIVER=bochs-drm$' "$LAB_TMP/uevents"

# --- drivers_autoprobe=0 does not keep the host driver away on rescan ---------------------
echo 0 >/sys/bus/pci/drivers_autoprobe
echo 1 >"$dev/$GPU/remove"
echo 1 >"$dev/$BRIDGE/rescan"
wait_until 5 test -e "$dev/$GPU/driver"
check_eq "with drivers_autoprobe=0, rescan still binds the host driver" "$(pci_driver $GPU)" bochs-drm
echo 1 >/sys/bus/pci/drivers_autoprobe

# --- the boot VGA is untouched by all of this -------------------------------------------------
check_eq "$VGA still on bochs-drm" "$(pci_driver $VGA)" bochs-drm
check_eq "$NIC still on e1000e" "$(pci_driver $NIC)" e1000e
