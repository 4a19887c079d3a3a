# lab-group: baseline
# lab-needs: gpumon
# lab-timeout: 120
#
# `gpumon status --json --all` on the untouched GPU host reports the truth for every
# PCI device: each field is compared with sysfs read here independently (driver
# link, iommu_group link, reset_method, power_state, boot_vga...), and the selection
# (the GPU plus its audio companion, not the boot VGA with the same IDs) and the
# states follow from the config. Read-only.

VGA=0000:00:02.0 GPU=0000:01:00.0 AUDIO=0000:01:00.1 NVME=0000:02:00.0 NIC=0000:03:00.0
LAB_SELECTED="$GPU $AUDIO"
lab_need_gpumon
CONF=$LAB_TMP/gpumon.toml
lab_write_config "$CONF"

gpumon_json status --json --all --config "$CONF"
[ "$GPUMON_JSON_OK" = 1 ] || fatal "gpumon status --json --all prints JSON with a devices array" \
  "exit status $GPUMON_RC" "stdout: $(head -c 2000 "$LAB_TMP/out.json")" "stderr: $(head -c 2000 "$LAB_TMP/err")"
check_eq "exit status is 1: the selected GPU is not on vfio-pci yet" "$GPUMON_RC" 1
check_eq "source is sysfs" "$(jq -r .source "$LAB_TMP/out.json")" sysfs

# --all lists exactly the devices the kernel has.
kernel_devs=$(for d in /sys/bus/pci/devices/*; do echo "${d##*/}"; done)
check_eq "--all lists every PCI device in sysfs, and only those" "$(echo $(jaddrs))" "$(echo $kernel_devs)"

# Every device: gpumon's facts against the kernel's.
for d in $kernel_devs; do
  check_device_matches_sysfs "$d"
done

# Selection and state.
#        BDF     selected companion_of
while read -r d sel comp; do
  check_eq "$d: selected" "$(jdev $d selected)" "$sel"
  check_eq "$d: companion_of" "$(jdev $d companion_of)" "$comp"
  check_eq "$d: state" "$(jdev $d state)" "$(expected_state $d $sel)"
done <<EOT
$GPU   true  null
$AUDIO true  $GPU
$VGA   false null
$NVME  false null
$NIC   false null
EOT
for d in $GPU $AUDIO; do
  check_eq "$d: target_driver" "$(jdev $d target_driver)" vfio-pci
  check_eq "$d: state is host-driver (bound to $(pci_driver $d))" "$(jdev $d state)" host-driver
done
check_eq "$VGA (boot VGA, same IDs as the GPU) is not selected" "$(jdev $VGA selected)" false
check_eq "$VGA: excluded as the boot VGA (the ids rule matched it)" "$(jdev $VGA excluded)" boot-vga
check_eq "$GPU: not excluded" "$(jdev $GPU excluded)" null
# gpumon's group_viable means "viable under the config": every endpoint of the group
# is selected (gpumon will move it), unbound or on vfio-pci. The kernel would not
# open the group yet: its members are on host drivers.
check_eq "$GPU group viable under the config (both functions are selected)" "$(jdev $GPU group_viable)" true
check_eq "... while the kernel's VFIO rule says not yet" "$(sysfs_group_vfio_ready $GPU)" false
others=$(for d in $kernel_devs; do case $d in $GPU|$AUDIO) ;; *) echo "$d:$(jdev $d state)" ;; esac; done | grep -v ':unselected$')
check_eq "every other device is unselected" "$others" ""

# Without --all: only the selected devices; the table form agrees on the exit status.
gpumon_json status --json --config "$CONF"
check_eq "without --all only the selected devices are listed" "$(echo $(jaddrs))" "$GPU $AUDIO"
check_eq "without --all the exit status is still 1" "$GPUMON_RC" 1
"$GPUMON_BIN" status --config "$CONF" >"$LAB_TMP/table" 2>&1; rc=$?
check_eq "table output: exit status 1" "$rc" 1
check_cmd "table output names the GPU" grep -q "${GPU#0000:}" "$LAB_TMP/table"
note "table output:"; sed 's/^/#   /' "$LAB_TMP/table"

# Nothing was changed by looking.
check_eq "$GPU still on bochs-drm" "$(pci_driver $GPU)" bochs-drm
check_eq "$AUDIO still on snd_hda_intel" "$(pci_driver $AUDIO)" snd_hda_intel
