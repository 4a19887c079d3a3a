# lab-group: lifecycle
# lab-needs: gpumon
# lab-timeout: 150
#
# Ten stops in a row (hook calls ~1.2 s apart: past dedupe_window 1s and min_interval
# 500ms) with max_resets = 3: exactly 3 resets, then quarantine (alert, status state and
# the reason, resets.json); the other stops reset nothing. `gpumon clear` lifts it and
# the next stop resets again.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon "$GD_RESET_TOML"
"$GPUMON_BIN" clear $GPU $AUDIO >/dev/null
sleep 1.1
gd_mark
gd_alerts_count q0 quarantined
lab_uevents_start "$LAB_TMP/uevents"
for ((i = 1; i <= 10; i++)); do
  gd_hook_stop lab-vm-q$i $GPU $AUDIO
  # handled: a reset finished, or it was refused (quarantine)
  wait_until 30 eval 'gd_since >$LAB_TMP/s; gd_log_count h "^NOTICE reset [a-z-]+ (succeeded|failed)|alert=quarantined|^WARNING not resetting" $LAB_TMP/s; [ "$h" -ge '$i' ]' \
    || not_ok "stop $i handled" "$(gd_since | tail -5)"
  sleep 1.1
done
lab_uevents_stop
f=$(gd_since_file)
gd_log_count rel '^NOTICE VM released the slot' "$f"; check_eq "10 stops handled as 10 releases" "$rel" 10
gd_count_resets n; check_eq "exactly max_resets (3) resets" "$n" 3
gd_alerts_count q1 quarantined; check_eq "one quarantined alert" "$((q1 - q0))" 1
gd_log_count nr '^WARNING not resetting 0000:01:00.0: quarantined' "$f"; check_eq "the 6 later stops refused: quarantined" "$nr" 6
gd_host_binds hb "$LAB_TMP/uevents"; check_eq "no host-driver bind uevent for the slot" "$hb" 0
gpumon_json status --json
check_eq "status: GPU quarantined" "$(jdev $GPU state)" quarantined
check_contains "status says why" "$(jdev $GPU note)" "3 resets within 10m"
note "audio function: state $(jdev $AUDIO state), note $(jdev $AUDIO note)"
check_cmd "resets.json records the quarantine" grep -q quarantin "$GD_STATE/resets.json"
check_eq "both still on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
check_rc "gpumon reset refuses a quarantined slot" 1 "$GPUMON_BIN" reset $GPU

check_rc "gpumon clear $GPU (the address the alert names)" 0 "$GPUMON_BIN" clear $GPU
gpumon_json status --json
check_eq "status after clear: GPU ok" "$(jdev $GPU state)" ok
check_eq "status after clear: audio ok (the whole slot was quarantined)" "$(jdev $AUDIO state)" ok
sleep 1.1
gd_mark
gd_hook_stop lab-vm-after-clear $GPU $AUDIO
check_cmd "after clear a stop resets again" wait_until 30 eval 'gd_since | grep -q "^NOTICE reset .* succeeded"'
gd_untouched
cat "$f"
