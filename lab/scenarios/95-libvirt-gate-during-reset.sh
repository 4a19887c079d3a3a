# lab-group: libvirt
# lab-needs: gpumon
# lab-timeout: 400
#
# A start while a remove-rescan reset runs: the gate holds `virsh start` at prepare begin
# until the reset ended, then lets it through; the VM starts with the GPU healthy on
# vfio-pci. So that the reset is long enough to start into, strace holds the daemon 20 s on
# entering the open(2) of the bus's rescan file (as 86-kill9-reset does; no hook in gpumon):
# a remove-rescan on an idle lab machine takes ~350 ms, less than virsh needs to reach the hook.
# Changes the module registration order (the remove-rescan needs vfio-pci first).
. "$LAB_REPO/lab/guest/daemon-lib.sh"
. "$LAB_REPO/lab/guest/libvirt-lib.sh"
lab_need_gpumon
lv_setup || fatal "libvirtd runs"
gd_alive && gd_stop
check_cmd "vfio-pci registered before the host drivers" lv_registration_trick
GD_GPU_EXTRA='reset_methods = ["remove-rescan"]' lv_gd_config "$LV_RESET_TOML"
gd_start || fatal "daemon runs"
check_cmd "both on vfio-pci" wait_until 30 gd_both_vfio
bus_rescan=$(readlink -f /sys/bus/pci/devices/$GPU_BRIDGE)/pci_bus/$(ls $(readlink -f /sys/bus/pci/devices/$GPU_BRIDGE)/pci_bus | head -1)/rescan
strace -qq -f -o /dev/null -p "$GD_PID" -P "$bus_rescan" -e trace=openat -e inject=openat:delay_enter=20s &
spid=$!
wait_until 10 eval 'grep -q "^TracerPid:[[:space:]]*[1-9]" /proc/$GD_PID/status' || fatal "strace attached"
lv_define lab-busy no
lv_vm_start lab-busy; check_eq "virsh start (run 1)" "$?" 0 || echo "$LV_START_ERR"
gd_mark
lv_vm_destroy lab-busy; check_eq "virsh destroy (run 1)" "$?" 0
check_cmd "the remove-rescan reset began" wait_until 30 eval 'gd_since | grep -q "resetting .*remove"'
lv_vm_start lab-busy; rc=$?
check_eq "virsh start during the reset succeeds" "$rc" 0 || echo "$LV_START_ERR"
note "virsh start took $LV_START_MS ms"
kill $spid 2>/dev/null; wait $spid 2>/dev/null   # run 2's reset at full speed
f=$(gd_since_file)
check_cmd "the gate waited" grep -q 'the start waits' "$f"
check_cmd "... and answered after the reset" grep -q 'gate: ready after waiting' "$f"
r=$(grep -n '^NOTICE reset remove-rescan succeeded' "$f" | head -1 | cut -d: -f1)
g=$(grep -n 'gate: ready after waiting' "$f" | head -1 | cut -d: -f1)
check_cmd "the reset ended before the gate opened (lines $r < $g)" test "${r:-999999}" -lt "${g:-0}"
p=$(lv_qemu_pid lab-busy)
# (a remove-rescan splits the GPU and its audio function into two IOMMU groups: container + 2)
check_cmd "the new QEMU holds the group(s)" test "$(lv_vfio_fds "${p:-0}")" -ge 2
check_eq "both on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
gd_mark
lv_vm_destroy lab-busy; check_eq "virsh destroy (run 2)" "$?" 0
check_cmd "run 2's stop reset too" lv_wait_reset 60
check_cmd "both on vfio-pci" wait_until 20 gd_both_vfio
gd_untouched
cat "$f"
# back to the default methods for the next scenarios
lv_gd_restart || fatal "daemon runs"
