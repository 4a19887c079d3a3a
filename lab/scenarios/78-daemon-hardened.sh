# lab-group: daemon
# lab-needs: gpumon
# lab-timeout: 90
#
# The unit's hardening, tested: the daemon runs with exactly the capability bounding set
# of systemd/gpumon.service.in (root's effective set becomes that set at exec) and its
# UMask, via setpriv. It must start, read the kernel log, correct a grab, answer status,
# and write its metrics textfile 0644 despite umask 0077 (node_exporter reads it as
# another user).
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
command -v setpriv >/dev/null || fatal "setpriv (util-linux) is available"
unit=$LAB_REPO/systemd/gpumon.service.in
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
umask_value=$(sed -n 's/^UMask=//p' "$unit")
check_cmd "the unit names a capability bounding set and a umask" test -n "$caps" -a -n "$umask_value"
bounding=-all
for c in $caps; do c=${c#CAP_}; bounding+=",+${c,,}"; done
note "bounding set: $bounding; umask $umask_value"
gd_stop
rm -f "$GD_PROM"
# The lab's own config with the kernel as uevent source: daemon-udev, before this, left uevent_source = "udev"
# with systemd-udevd stopped.
GD_DAEMON_EXTRA='uevent_source = "kernel"' gd_config
real=$GPUMON_BIN
cat >"$GD_DIR/hardened" <<EOS
#!/bin/bash
umask $umask_value
exec setpriv --bounding-set=$bounding --inh-caps=-all "$real" "\$@"
EOS
chmod +x "$GD_DIR/hardened"
gd_mark
GPUMON_BIN=$GD_DIR/hardened gd_start || fatal "the daemon starts with the unit's capabilities" "$(gd_since)"
eff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$GD_PID/status)
note "CapEff of the daemon: $eff"
if command -v capsh >/dev/null; then
  check_eq "effective capabilities are exactly the unit's" "$(capsh --decode=$eff | sed 's/.*=//' | tr ',' '\n' | sort | tr '\n' ' ')" "$(for c in $caps; do echo ${c,,}; done | sort | tr '\n' ' ')"
fi
check_eq "umask of the daemon" "$(sed -n 's/^Umask:[[:space:]]*//p' /proc/$GD_PID/status)" "$umask_value"
check_cmd "the kernel log is readable (no 'kernel log not readable')" eval '! gd_since | grep -q "kernel log not readable"'
gd_grab $GPU bochs-drm
check_cmd "a grab is corrected with the unit's capabilities" wait_until 20 gd_driver_is $GPU vfio-pci
gd_status_json
check_eq "status answers over the socket: GPU ok" "$(jdev $GPU state)" ok
check_cmd "the metrics textfile is written" wait_until 5 test -f "$GD_PROM"
check_eq "the textfile is 0644 despite umask $umask_value" "$(stat -c %a "$GD_PROM")" 644
check_cmd "nothing was refused for want of a capability" eval '! gd_since | grep -E "Operation not permitted|EPERM"'
gd_stop
gd_since
