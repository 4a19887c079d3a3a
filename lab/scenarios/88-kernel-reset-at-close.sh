# lab-group: lifecycle
# lab-needs: gpumon
# lab-timeout: 120
#
# What the kernel's vfio-pci does by itself when a VM's last descriptor closes (issue 10,
# defect 12), measured with kprobes: a "VM" (python, the VFIO ioctls QEMU uses) opens
# the group, attaches a container and takes a device descriptor for both functions, then
# exits. vfio_pci_core_disable() tries a function reset of each function
# (__pci_reset_function_locked) as it is closed, then, once every device of the slot's
# device set is closed, a bus/slot reset (pci_reset_bus) if one is still needed. The
# counts and return values are recorded (docs/resets.md: "The kernel's own reset").
# Runs with the daemon stopped, so only the kernel acts.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_alive && gd_stop
check_cmd "both on vfio-pci" gd_both_vfio
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs tracefs $T
echo 0 >$T/tracing_on; echo >$T/trace; echo >$T/kprobe_events
for f in __pci_reset_function_locked pci_reset_bus vfio_pci_core_disable; do
  echo "p:gp_$f $f" >>$T/kprobe_events && echo "r:gp_${f}_ret $f ret=\$retval" >>$T/kprobe_events \
    || note "no kprobe on $f"
done
echo 1 >$T/events/kprobes/enable
echo 1 >$T/tracing_on
# each function through its own group (after a remove-rescan they can sit in two groups)
link_get g1 /sys/bus/pci/devices/$GPU/iommu_group; link_get g2 /sys/bus/pci/devices/$AUDIO/iommu_group
note "groups: $GPU ${g1##*/}, $AUDIO ${g2##*/}"
python3 - $GPU "${g1##*/}" $AUDIO "${g2##*/}" <<'PY'
import fcntl, os, struct, sys
pairs = list(zip(sys.argv[1::2], sys.argv[2::2]))
VFIO_SET_IOMMU, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_GET_DEVICE_FD = 0x3B66, 0x3B68, 0x3B6A
container = os.open("/dev/vfio/vfio", os.O_RDWR)
groups = {}
for _, g in pairs:
    if g not in groups:
        groups[g] = os.open(f"/dev/vfio/{g}", os.O_RDWR)
        fcntl.ioctl(groups[g], VFIO_GROUP_SET_CONTAINER, struct.pack("i", container))
fcntl.ioctl(container, VFIO_SET_IOMMU, 3)  # VFIO_TYPE1v2_IOMMU
fds = [fcntl.ioctl(groups[g], VFIO_GROUP_GET_DEVICE_FD, d.encode() + b"\0") for d, g in pairs]
print("opened device fds", fds, "for", [d for d, _ in pairs])
PY
rc=$?
echo 0 >$T/tracing_on
check_eq "the VM process opened both device descriptors and exited" "$rc" 0
grep -v '^#' $T/trace | sed 's/^ *//' >"$LAB_TMP/kreset.trace"
cat "$LAB_TMP/kreset.trace"
n_fn=$(grep -c 'gp___pci_reset_function_locked:' "$LAB_TMP/kreset.trace")
n_bus=$(grep -c 'gp_pci_reset_bus:' "$LAB_TMP/kreset.trace")
n_dis=$(grep -c 'gp_vfio_pci_core_disable:' "$LAB_TMP/kreset.trace")
note "at last close: vfio_pci_core_disable x$n_dis, function resets tried x$n_fn ($(grep -o 'gp___pci_reset_function_locked_ret.*ret=[^ ]*' "$LAB_TMP/kreset.trace" | grep -o 'ret=.*' | tr '\n' ' ')), bus/slot resets x$n_bus ($(grep -o 'gp_pci_reset_bus_ret.*ret=[^ ]*' "$LAB_TMP/kreset.trace" | grep -o 'ret=.*' | tr '\n' ' '))"
check_eq "vfio_pci_core_disable ran for both functions" "$n_dis" 2
echo 0 >$T/events/kprobes/enable; echo >$T/kprobe_events
check_cmd "both still on vfio-pci" gd_both_vfio
gd_untouched
