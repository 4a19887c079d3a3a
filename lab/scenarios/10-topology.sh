# lab-group: baseline
# lab-timeout: 60
#
# The emulated GPU host is what the other scenarios assume: IDs, classes, drivers,
# IOMMU groups and reset methods. A change of QEMU or of the kernel that alters any
# of this fails here first, loudly, instead of as a puzzling gpumon failure.
# Read-only: shares a boot with other read-only scenarios.

VGA=0000:00:02.0 GPU=0000:01:00.0 AUDIO=0000:01:00.1 NVME=0000:02:00.0 NIC=0000:03:00.0

check_cmd "an IOMMU is registered (/sys/class/iommu is not empty)" test -e /sys/class/iommu/dmar0
check_cmd "IOMMU groups exist" test -e /sys/kernel/iommu_groups/0
check_match "kernel command line enables the Intel IOMMU" "$(cat /proc/cmdline)" 'intel_iommu=on'

# --- identities, classes, drivers -------------------------------------------------
#        BDF     ids          class      driver
while read -r bdf ids class driver; do
  pci_exists "$bdf" || { not_ok "$bdf exists"; continue; }
  check_eq "$bdf vendor:device" "$(pci_ids "$bdf")" "$ids"
  check_eq "$bdf class" "$(pci_attr "$bdf" class)" "$class"
  check_eq "$bdf driver" "$(pci_driver "$bdf")" "$driver"
  check_eq "$bdf driver_override unset" "$(pci_attr "$bdf" driver_override)" "(null)"
done <<EOF
$VGA    1234:1111 0x030000 bochs-drm
$GPU    1234:1111 0x038000 bochs-drm
$AUDIO  8086:293e 0x040300 snd_hda_intel
$NVME   1b36:0010 0x010802 nvme
$NIC    8086:10d3 0x020000 e1000e
EOF

# --- boot VGA -----------------------------------------------------------------------
check_eq "$VGA is the boot VGA" "$(pci_attr $VGA boot_vga)" 1
# boot_vga is only shown for VGA-class devices; the GPU is class 0x0380 (display).
check_eq "$GPU has no boot_vga attribute (not VGA class)" "$(pci_attr $GPU boot_vga)" "<absent>"
check_eq "only two devices carry the GPU's IDs" "$(echo $(pci_find 1234:1111))" "$VGA $GPU"

# --- IOMMU groups ------------------------------------------------------------------
g=$(pci_group $GPU)
check_match "$GPU is in an IOMMU group" "$g" '^[0-9]+$'
check_eq "$AUDIO shares the GPU's group" "$(pci_group $AUDIO)" "$g"
check_eq "the GPU's group holds exactly the GPU and its audio function" \
  "$(echo $(pci_group_members "$g"))" "$GPU $AUDIO"
for d in $VGA $NVME $NIC; do
  check_match "$d is in an IOMMU group" "$(pci_group $d)" '^[0-9]+$'
  check_ne "$d is not in the GPU's group" "$(pci_group $d)" "$g"
done
check_cmd "vfio modules are available to modprobe" modprobe -n -q vfio-pci

# --- reset methods and power management ---------------------------------------------
check_eq "$GPU reset_method (no FLR, like an RTX card)" "$(pci_attr $GPU reset_method)" "bus"
# The kernel offers "bus" only to a device alone on its bus; the reset methods are
# probed when each function is added, so function 0 (added while alone) lists "bus"
# and function 1 gets no method at all: the attribute is hidden.
check_eq "$AUDIO has no reset_method attribute (no method)" "$(pci_attr $AUDIO reset_method)" "<absent>"
check_eq "$NVME reset_method (FLR-capable)" "$(pci_attr $NVME reset_method)" "flr bus"
check_eq "$NIC reset_method" "$(pci_attr $NIC reset_method)" "pm bus"
for d in $VGA $GPU $AUDIO $NVME $NIC; do
  check_eq "$d power_state" "$(pci_attr $d power_state)" "D0"
done
check_eq "$GPU has no PM capability" "$(lspci -s $GPU -v | grep -c 'Power Management')" 0
check_eq "$NIC has a PM capability" "$(lspci -s $NIC -v | grep -c 'Power Management')" 1

# --- the parent bridges -------------------------------------------------------------
for d in $GPU $NVME $NIC; do
  parent=$(cd -P "$(pci_path $d)/.." && echo "${PWD##*/}")
  check_eq "$d sits behind a PCIe root port bound to pcieport" "$(pci_driver "$parent")" pcieport
done
