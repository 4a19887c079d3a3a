# lab-group: kernel-facts
# lab-timeout: 90
#
# udev works in the guest chroot: systemd-udevd runs (with SYSTEMD_IGNORE_CHROOT=1),
# reads a rule from /run/udev/rules.d, and processes a bind of the GPU with it; the
# processed event reaches `udevadm monitor --udev`. The daemon's scenarios rely on
# this. Rebinds the GPU to its host driver: shares the kernel-facts boot.

GPU=0000:01:00.0
dev=/sys/bus/pci/devices

check_cmd "systemd-udevd starts in the chroot and answers a ping" lab_udevd_start
cat >/run/udev/rules.d/99-gpumon-lab.rules <<'RULES'
ACTION=="bind", SUBSYSTEM=="pci", ATTR{vendor}=="0x1234", ATTR{device}=="0x1111", ENV{GPUMON_LAB}="seen", RUN+="/bin/sh -c 'echo $kernel $env{DRIVER} >>/run/gpumon-lab-udev.log'"
RULES
check_cmd "udevadm control --reload" udevadm control --reload

lab_uevents_start "$LAB_TMP/udev-events" udev
echo "$GPU" >"$dev/$GPU/driver/unbind"
echo "$GPU" >/sys/bus/pci/drivers_probe
check_eq "$GPU rebound to its host driver" "$(pci_driver $GPU)" bochs-drm
check_cmd "udevd settles" udevadm settle --timeout=20
check_cmd "the rule in /run/udev/rules.d ran for the bind" wait_until 10 grep -q "^$GPU bochs-drm$" /run/gpumon-lab-udev.log
wait_until 20 grep -q '^GPUMON_LAB=seen$' "$LAB_TMP/udev-events"   # the monitor is asynchronous
lab_uevents_stop
check_cmd "udevadm monitor saw the processed bind event with the rule's property" \
  grep -q '^GPUMON_LAB=seen$' "$LAB_TMP/udev-events"
check_eq "udev properties of the processed bind event" \
  "$(grep -E '^(ACTION|DRIVER|PCI_SLOT_NAME|PCI_ID)=' "$LAB_TMP/udev-events" | grep -A3 '^ACTION=bind' | head -n 4 | sort | tr '\n' ' ')" \
  "ACTION=bind DRIVER=bochs-drm PCI_ID=1234:1111 PCI_SLOT_NAME=$GPU "
udevadm control --exit 2>/dev/null
