# lab-group: daemon
# lab-needs: gpumon
# lab-timeout: 90
#
# SIGHUP with a broken config: the daemon keeps running with the old config (a grab is
# still corrected), raises config-rejected; then SIGHUP with a good config is accepted.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon
gd_mark
cp /etc/gpumon/gpumon.toml "$LAB_TMP/good.toml"
printf '[[gpu]]\nids = ["1234-1111"]\n' >>/etc/gpumon/gpumon.toml
check_rc "check-config rejects the broken config" 2 "$GPUMON_BIN" check-config
gd_alerts_count r0 config-rejected
kill -HUP $GD_PID
check_cmd "config-rejected alert" wait_until 10 grep -q '^config-rejected' $GD_ALERTS
gd_alerts_count r1 config-rejected
check_eq "exactly one config-rejected alert" "$((r1 - r0))" 1
sleep 0.5
gd_alive && ok "daemon still running after SIGHUP with a broken config" || fatal "daemon still running" "$(gd_since)"
gd_grab $GPU bochs-drm
check_cmd "old config still enforced: a grab is corrected" wait_until 20 gd_driver_is $GPU vfio-pci
gpumon_json status --json --config "$LAB_TMP/good.toml"   # the file on disk is the broken one
check_eq "status still answered by the daemon, GPU ok" "$(jq -r .source $LAB_TMP/out.json) $(jdev $GPU state)" "daemon ok"
cp "$LAB_TMP/good.toml" /etc/gpumon/gpumon.toml
kill -HUP $GD_PID
check_cmd "a good config is reloaded" wait_until 10 eval 'gd_since | grep -q "config reloaded"'
gd_untouched
gd_since
