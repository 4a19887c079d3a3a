# lab-group: placement
# lab-needs: gpumon
# lab-timeout: 900
#
# The daemon drives a real OpenStack Placement (openstack-placement 16.0.0 from the
# venv tests/placement/setup-venv made, SQLite, noauth2) running inside the guest on
# 127.0.0.1 — the guest has no network to the host. Populated as Nova does for this
# host ("lab-host"): a quarantine reserves the slot's two providers, `gpumon clear`
# unreserves them, and with Placement stopped a VM stop is still reset at once (the
# sync fails with an alert) and the desired state is re-applied when it comes back.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
VENV=$LAB_REPO/.build/placement-venv
[ -x "$VENV/bin/python" ] || fatal "no Placement venv: run tests/placement/setup-venv on the host"
ip link set lo up 2>/dev/null
PLDIR=/run/lab-placement
mkdir -p "$PLDIR"

# pl_start [PORT]: starts the server, sets PL_PORT and PL_PID
pl_start() {
  rm -f "$PLDIR/out"
  "$VENV/bin/python" "$LAB_REPO/tests/placement/server.py" "$PLDIR/db" "${1:-0}" \
    >"$PLDIR/out" 2>"$PLDIR/err" < <(sleep 100000) &
  PL_PID=$!
  wait_until 600 eval 'grep -q "^PORT " "$PLDIR/out" || ! kill -0 $PL_PID' || return 1
  read -r _ PL_PORT <"$PLDIR/out"
  [ -n "$PL_PORT" ]
}
pl() {  # pl METHOD PATH [JSON]
  curl -sS -m 30 -X "$1" -H "X-Auth-Token: admin" -H "OpenStack-API-Version: placement 1.26" \
    -H "Content-Type: application/json" "http://127.0.0.1:$PL_PORT$2" ${3:+-d "$3"}
}
pl_reserved() {  # pl_reserved VAR UUID
  local _j
  _j=$(pl GET "/resource_providers/$2/inventories")
  [[ "$_j" =~ \"reserved\":\ ?([0-9]+) ]] && printf -v "$1" '%s' "${BASH_REMATCH[1]}" || printf -v "$1" '%s' "?"
}
both_reserved() { local a b; pl_reserved a $RP_GPU; pl_reserved b $RP_AUDIO; [ "$a $b" = "$1 $1" ]; }

t0=$(cut -d' ' -f1 /proc/uptime)
pl_start || fatal "Placement server starts in the guest" "$(tail -5 "$PLDIR/err")"
note "Placement listening on 127.0.0.1:$PL_PORT after $(awk -v a="$t0" '{print $1 - a}' /proc/uptime) s"
NODE=11111111-1111-1111-1111-111111111111 RP_GPU=22222222-2222-2222-2222-222222222222
RP_AUDIO=33333333-3333-3333-3333-333333333333
pl POST /resource_providers "{\"name\": \"lab-host\", \"uuid\": \"$NODE\"}" >/dev/null
for rc in CUSTOM_PCI_1234_1111 CUSTOM_PCI_8086_293E; do pl PUT /resource_classes/$rc >/dev/null; done
for pair in "$RP_GPU 0000:01:00.0 CUSTOM_PCI_1234_1111" "$RP_AUDIO 0000:01:00.1 CUSTOM_PCI_8086_293E"; do
  set -- $pair
  pl POST /resource_providers "{\"name\": \"lab-host_$2\", \"uuid\": \"$1\", \"parent_provider_uuid\": \"$NODE\"}" >/dev/null
  pl PUT /resource_providers/$1/inventories \
    "{\"resource_provider_generation\": 0, \"inventories\": {\"$3\": {\"total\": 1, \"max_unit\": 1}}}" >/dev/null
  pl PUT /resource_providers/$1/traits \
    "{\"resource_provider_generation\": 1, \"traits\": [\"COMPUTE_MANAGED_PCI_DEVICE\"]}" >/dev/null
done
check_cmd "Nova-shaped providers created" both_reserved 0

gd_config "$GD_RESET_TOML

[placement]
url = \"http://127.0.0.1:$PL_PORT\"
auth = \"noauth\"
hypervisor_hostname = \"lab-host\"
sync_interval = \"5s\"
request_timeout = \"20s\""
gd_start || fatal "daemon runs"
check_cmd "both functions on vfio-pci" wait_until 20 gd_both_vfio
check_cmd "a first sync completes (placement_up 1)" wait_until 120 eval 'gd_prom_value v gpumon_placement_up; [ "$v" = 1 ]'
check_cmd "healthy: nothing reserved" both_reserved 0

"$GPUMON_BIN" clear $GPU >/dev/null
gd_mark
for ((i = 1; i <= 4; i++)); do
  gd_hook_stop lab-vm-pl$i $GPU $AUDIO
  wait_until 30 eval 'gd_since | grep -cE "^NOTICE reset [a-z-]+ (succeeded|failed)|alert=quarantined|^WARNING not resetting" | { read n; [ "$n" -ge '$i' ]; }' \
    || not_ok "stop $i handled" "$(gd_since | tail -5)"
  sleep 1.1
done
gpumon_json status --json
check_eq "status: GPU quarantined" "$(jdev $GPU state)" quarantined
check_cmd "Placement: both providers reserved = total" wait_until 120 both_reserved 1
check_cmd "metrics: device_state quarantined = 1" wait_until 20 eval \
  'gd_prom_value v "gpumon_device_state{address=\"$GPU\",state=\"quarantined\"}"; [ "$v" = 1 ]'
check_cmd "metrics: placement_in_sync 1 for the GPU" wait_until 30 eval \
  'gd_prom_value v "gpumon_placement_in_sync{address=\"$GPU\"}"; [ "$v" = 1 ]'
check_rc "gpumon placement status: in sync" 0 "$GPUMON_BIN" placement status
check_cmd "placement.json records gpumon's reservation" grep -q "lab-host_0000:01:00.0" "$GD_STATE/placement.json"

check_rc "gpumon clear $GPU" 0 "$GPUMON_BIN" clear $GPU
check_cmd "Placement: both unreserved after clear" wait_until 120 both_reserved 0

# Placement down: a stop is still reset at once; the sync fails with one alert.
kill -TERM $PL_PID; wait $PL_PID 2>/dev/null
gd_alerts_count f0 placement-sync-failed
sleep 1.1
gd_mark
gd_hook_stop lab-vm-pl-down $GPU $AUDIO
check_cmd "reset while Placement is down" wait_until 30 eval 'gd_since | grep -q "^NOTICE reset .* succeeded"'
check_cmd "placement-sync-failed alert" wait_until 120 eval 'gd_alerts_count f1 placement-sync-failed; [ $((f1 - f0)) -ge 1 ]'
check_cmd "metrics: placement_up 0" wait_until 30 eval 'gd_prom_value v gpumon_placement_up; [ "$v" = 0 ]'
# While Placement is down the slot is quarantined again (the reset above plus three more
# stops spend the budget of 3): only the re-sync after Placement returns can report it.
for ((i = 1; i <= 3; i++)); do gd_hook_stop lab-vm-pl-q$i $GPU $AUDIO; sleep 1.1; done
check_cmd "quarantined again while Placement is down" wait_until 60 eval \
  'gpumon_json status --json; [ "$(jdev $GPU state)" = quarantined ]'
pl_start "$PL_PORT" || fatal "Placement restarts on port $PL_PORT"
check_cmd "back: reserved re-applied without any new event" wait_until 180 both_reserved 1
check_cmd "metrics: placement_up 1 again" wait_until 60 eval 'gd_prom_value v gpumon_placement_up; [ "$v" = 1 ]'
"$GPUMON_BIN" clear $GPU >/dev/null
check_cmd "unreserved after the final clear" wait_until 120 both_reserved 0
gd_untouched
gd_stop
kill -TERM $PL_PID 2>/dev/null; wait $PL_PID 2>/dev/null
