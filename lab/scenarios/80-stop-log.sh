# lab-group: lifecycle
# lab-needs: gpumon
# lab-timeout: 120
#
# Log-driven stop: a libvirt domain log (in [libvirt] log_dirs) gets a `starting up`
# header passing 01:00.0 and 01:00.1 through, then `shutting down, reason=destroyed`.
# The no-FLR GPU slot is reset (VFIO hot reset, method slot), verified, and stays on
# vfio-pci; no host-driver bind uevent appears for the slot during the reset.
# Starts the daemon the other lifecycle scenarios use.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_config "$GD_RESET_TOML"
gd_start || fatal "daemon runs"
check_cmd "both functions on vfio-pci" wait_until 20 gd_both_vfio
gd_mark
gd_domain_start lab-vm-log $GPU $AUDIO
lab_uevents_start "$LAB_TMP/uevents"
sleep 0.5
gd_domain_stop lab-vm-log
check_cmd "a reset after the logged stop" wait_until 30 eval 'gd_since | grep -q "^NOTICE reset .* succeeded\|reset-failed"'
sleep 1.5   # any second reset (e.g. a duplicate signal) would show up now
lab_uevents_stop
f=$(gd_since_file)
check_cmd "release came from the domain log" grep -q '^NOTICE VM released the slot .*domain=lab-vm-log.*source=log' "$f"
gd_count_resets n; check_eq "exactly one reset" "$n" 1
check_cmd "method slot (VFIO hot reset), verified healthy on vfio-pci" grep -q '^NOTICE reset slot succeeded in [0-9]* ms: healthy on vfio-pci' "$f"
check_eq "both on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
gd_host_binds hb "$LAB_TMP/uevents"; check_eq "no host-driver bind uevent for the slot during the reset" "$hb" 0
gd_events ev "$LAB_TMP/uevents" unbind; check_eq "no unbind uevent for the slot (nothing left vfio-pci)" "$ev" 0
gd_status_json
check_eq "status: both ok" "$(jdev $GPU state) $(jdev $AUDIO state)" "ok ok"
wait_until 3 grep -q 'gpumon_resets_total' "$GD_PROM"
grep '^gpumon_resets_total\|^gpumon_release_signals_total\|^gpumon_last_reset' "$GD_PROM"
check_cmd "metrics: a slot reset counted" grep -q "^gpumon_resets_total{address=\"$GPU\",method=\"slot\",result=\"[a-z]*\"} 1" "$GD_PROM"
gd_untouched
cat "$f"
