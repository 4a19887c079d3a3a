# lab-group: bind
# lab-needs: gpumon
# lab-timeout: 120
#
# The guide's manual procedure: load the VFIO modules, then for the GPU and its
# audio function write vfio-pci to driver_override, unbind from the current driver
# and write the address to /sys/bus/pci/drivers_probe. Afterwards both are on
# vfio-pci, their IOMMU group opens, and `gpumon status` says ok for both and exits
# 0; the boot VGA (same IDs) and the NIC keep their drivers. Changes bindings:
# boots in its own group.

VGA=0000:00:02.0 GPU=0000:01:00.0 AUDIO=0000:01:00.1 NVME=0000:02:00.0 NIC=0000:03:00.0
LAB_SELECTED="$GPU $AUDIO"
lab_need_gpumon
lab_write_config /etc/gpumon/gpumon.toml     # the default path; the overlay is writable

gpumon_json status --json
check_eq "before: exit status 1 (GPU on its host driver)" "$GPUMON_RC" 1
check_eq "before: $GPU state" "$(jdev $GPU state)" host-driver

# Step 3 of the guide: the modules.
for m in vfio vfio_iommu_type1 vfio-pci; do
  check_cmd "modprobe $m" modprobe "$m"
done
check_cmd "vfio-pci is registered as a PCI driver" test -d /sys/bus/pci/drivers/vfio-pci
check_eq "loading vfio-pci alone moves nothing: $GPU" "$(pci_driver $GPU)" bochs-drm

# Step 4: the manual bind, one function at a time, as an operator types it.
for d in $GPU $AUDIO; do
  check_cmd "manual bind of $d (driver_override, unbind, drivers_probe)" pci_bind_vfio "$d"
done
check_eq "$GPU on vfio-pci" "$(pci_driver $GPU)" vfio-pci
check_eq "$AUDIO on vfio-pci" "$(pci_driver $AUDIO)" vfio-pci
check_eq "$VGA (boot VGA, same IDs) stays on bochs-drm" "$(pci_driver $VGA)" bochs-drm
check_eq "$NIC stays on e1000e" "$(pci_driver $NIC)" e1000e
check_eq "$NVME stays on nvme" "$(pci_driver $NVME)" nvme
g=$(pci_group $GPU)
check_eq "the kernel's VFIO rule: group $g is ready" "$(sysfs_group_vfio_ready $GPU)" true
check_cmd "/dev/vfio/$g exists" test -c "/dev/vfio/$g"
check_cmd "/dev/vfio/$g opens" bash -c "exec 3<>/dev/vfio/$g"
for d in $GPU $AUDIO; do note "$d power_state after bind: $(pci_attr $d power_state)"; done

# gpumon agrees, with the default config path.
gpumon_json status --json
[ "$GPUMON_JSON_OK" = 1 ] || fatal "gpumon status --json prints JSON" \
  "exit status $GPUMON_RC" "stdout: $(head -c 2000 "$LAB_TMP/out.json")" "stderr: $(head -c 2000 "$LAB_TMP/err")"
check_eq "after: exit status 0" "$GPUMON_RC" 0
check_eq "after: exactly the GPU and its audio function are listed" "$(echo $(jaddrs))" "$GPU $AUDIO"
for d in $GPU $AUDIO; do
  check_eq "after: $d state" "$(jdev $d state)" ok
  check_eq "after: $d driver" "$(jdev $d driver)" vfio-pci
  check_eq "after: $d group_viable" "$(jdev $d group_viable)" true
  check_eq "after: $d driver_override" "$(jdev $d driver_override)" vfio-pci
done

# And with --all every device still matches sysfs; the others are unselected.
gpumon_json status --json --all
check_eq "after, --all: exit status 0" "$GPUMON_RC" 0
for d in /sys/bus/pci/devices/*; do check_device_matches_sysfs "${d##*/}"; done
check_eq "after, --all: $VGA unselected" "$(jdev $VGA state)" unselected
check_eq "after, --all: $VGA driver" "$(jdev $VGA driver)" bochs-drm
check_eq "after, --all: $NIC unselected on e1000e" "$(jdev $NIC state)/$(jdev $NIC driver)" unselected/e1000e

"$GPUMON_BIN" status >"$LAB_TMP/table" 2>&1; rc=$?
check_eq "table output: exit status 0" "$rc" 0
note "table output:"; sed 's/^/#   /' "$LAB_TMP/table"
