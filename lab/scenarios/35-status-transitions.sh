# lab-group: bind
# lab-needs: gpumon
# lab-timeout: 150
#
# Runs after manual-bind, in its boot (the GPU and its audio function on vfio-pci).
# Takes the devices through the states gpumon must tell apart, each made by the
# kernel, and checks `gpumon status` against sysfs after each step:
#   audio function unbound            -> unbound, exit 1
#   rebound by drivers_probe          -> ok, exit 0 (driver_override survived)
#   remove + rescan of the slot       -> host-driver again, override gone, exit 1
#   a configured address removed      -> missing, exit 1

VGA=0000:00:02.0 GPU=0000:01:00.0 AUDIO=0000:01:00.1
BRIDGE=0000:00:03.0
dev=/sys/bus/pci/devices
LAB_SELECTED="$GPU $AUDIO"
lab_need_gpumon
lab_write_config "$LAB_TMP/ids.toml"

if [ "$(pci_driver $GPU)/$(pci_driver $AUDIO)" != vfio-pci/vfio-pci ]; then
  # run alone: do the manual bind first
  modprobe vfio-pci
  for d in $GPU $AUDIO; do pci_bind_vfio $d; done
fi
gpumon_json status --json --config "$LAB_TMP/ids.toml"
check_eq "start: exit status 0, both on vfio-pci" "$GPUMON_RC" 0

# --- the audio function unbound --------------------------------------------------
echo $AUDIO >"$dev/$AUDIO/driver/unbind"
check_eq "$AUDIO unbound in sysfs" "$(pci_driver $AUDIO)" none
gpumon_json status --json --config "$LAB_TMP/ids.toml"
check_eq "unbound: exit status 1" "$GPUMON_RC" 1
check_eq "unbound: $AUDIO state" "$(jdev $AUDIO state)" unbound
check_eq "unbound: $AUDIO driver" "$(jdev $AUDIO driver)" null
check_eq "unbound: $GPU state" "$(jdev $GPU state)" ok
check_eq "unbound: group still viable under the config" "$(jdev $GPU group_viable)" true
for d in $GPU $AUDIO; do check_device_matches_sysfs $d; done

# --- rebound: driver_override is still there ---------------------------------------------
echo $AUDIO >/sys/bus/pci/drivers_probe
check_eq "drivers_probe puts $AUDIO back on vfio-pci (override kept)" "$(pci_driver $AUDIO)" vfio-pci
gpumon_json status --json --config "$LAB_TMP/ids.toml"
check_eq "rebound: exit status 0" "$GPUMON_RC" 0
check_eq "rebound: $AUDIO state" "$(jdev $AUDIO state)" ok

# --- remove + rescan of the slot: the host drivers are back --------------------------------
group_before=$(pci_group $GPU)
echo 1 >"$dev/$AUDIO/remove"
echo 1 >"$dev/$GPU/remove"
echo 1 >"$dev/$BRIDGE/rescan"
wait_until 10 test -e "$dev/$GPU/driver" -a -e "$dev/$AUDIO/driver"
check_eq "after rescan $GPU is on bochs-drm again" "$(pci_driver $GPU)" bochs-drm
check_eq "after rescan $AUDIO is on snd_hda_intel again" "$(pci_driver $AUDIO)" snd_hda_intel
# Kernel fact (docs/kernel-notes.md): QEMU sets the multifunction bit in function 0's
# header only, and the kernel looks for a sibling's group only when adding a function
# that has the bit. At boot both functions share a group; after both are removed and
# rescanned, function 0 is added first and function 1 lands in a group of its own.
check_eq "after rescan $GPU keeps group $group_before" "$(pci_group $GPU)" "$group_before"
check_ne "after rescan $AUDIO is in another IOMMU group than $GPU (split)" "$(pci_group $AUDIO)" "$(pci_group $GPU)"
check_eq "  ... and alone in it" "$(echo $(pci_group_members "$(pci_group $AUDIO)"))" "$AUDIO"
gpumon_json status --json --config "$LAB_TMP/ids.toml"
check_eq "rescanned: exit status 1" "$GPUMON_RC" 1
for d in $GPU $AUDIO; do
  check_eq "rescanned: $d state" "$(jdev $d state)" host-driver
  check_eq "rescanned: $d driver_override" "$(jdev $d driver_override)" null
  check_device_matches_sysfs $d
done
check_eq "rescanned: $VGA untouched" "$(pci_driver $VGA)" bochs-drm

# --- a configured address that is not there ---------------------------------------------------
cat >"$LAB_TMP/addr.toml" <<EOT
[[gpu]]
addresses = ["$GPU"]
EOT
gpumon_json status --json --config "$LAB_TMP/addr.toml"
check_eq "by address, present: $GPU state" "$(jdev $GPU state)" host-driver
echo 1 >"$dev/$GPU/remove"
check_cmd "$GPU removed" test ! -e "$dev/$GPU"
gpumon_json status --json --config "$LAB_TMP/addr.toml"
check_eq "removed: exit status 1" "$GPUMON_RC" 1
check_eq "removed: $GPU state" "$(jdev $GPU state)" missing
echo 1 >"$dev/$BRIDGE/rescan"
wait_until 10 test -e "$dev/$GPU/driver"
gpumon_json status --json --config "$LAB_TMP/addr.toml"
check_eq "rescanned again: $GPU state" "$(jdev $GPU state)" host-driver
check_eq "function 0 re-added beside function 1 joins its group again" "$(pci_group $GPU)" "$(pci_group $AUDIO)"
