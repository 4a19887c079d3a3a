# lab-group: daemon
# lab-needs: gpumon
# lab-timeout: 240
#
# 10,000 synthetic `change` uevents on the GPU (echo change > uevent), with a grab by
# bochs-drm in the middle: the grab is still corrected; the daemon counts the events,
# and its CPU time per event is reported. (bench/lab measures it too.)
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon
gd_mark
N=${BURST_N:-10000}
gd_prom_value c0 'gpumon_uevents_total{action="change"}'; [ "$c0" = absent ] && c0=0
gpumon_json status --json; E0=$(jq -r .daemon.events_seen "$LAB_TMP/out.json")
gd_cpu_ticks cpu0 $GD_PID
u=/sys/bus/pci/devices/$GPU/uevent
t0=${EPOCHREALTIME/./}
for ((i = 0; i < N / 2; i++)); do echo change >$u; done
gd_grab $GPU bochs-drm
for ((i = 0; i < N / 2; i++)); do echo change >$u; done
t1=${EPOCHREALTIME/./}
note "$N change uevents written in $(( (t1 - t0) / 1000 )) ms"
check_cmd "the grab in the middle of the burst is corrected" wait_until 30 gd_driver_is $GPU vfio-pci
check_eq "driver_override" "$(pci_attr $GPU driver_override)" vfio-pci
# the daemon has seen them all when its count (status over the socket) stops moving
seen_get() { gpumon_json status --json; jq -r .daemon.events_seen "$LAB_TMP/out.json"; }
e0=$E0
for ((i = 0; i < 90; i++)); do
  e1=$(seen_get)
  [ "$e1" = "${prev:-}" ] && break
  prev=$e1
  sleep 1
done
gd_cpu_ticks cpu1 $GD_PID
seen=$((e1 - e0))
wait_until 3 eval 'gd_prom_value c1 "gpumon_uevents_total{action=\"change\"}"; [ "$c1" -ge $((c0 + N)) ]'
gd_prom_value c1 'gpumon_uevents_total{action="change"}'
check_eq "metrics textfile: change uevents counted" "$((c1 - c0))" "$N"
note "daemon saw $seen uevents (the burst, the grab's unbind/bind and its own rebind); CPU $(( (cpu1 - cpu0) * 10 )) ms = $(( (cpu1 - cpu0) * 10000000 / N )) ns per event (TCG)"
f=$(gd_since_file)
gd_log_count lost 'alert=events-lost' "$f"
if [ "$lost" -eq 0 ]; then
  check_cmd "every uevent seen (no overflow): $seen >= $N" test "$seen" -ge "$N"
else
  note "the uevent socket overflowed $lost times; the daemon re-enumerated (counted $seen of $N)"
  ok "overflow handled by re-enumeration ($lost events-lost alerts)"
fi
gd_log_count g 'alert=host-driver-grab' "$f"
check_eq "one host-driver-grab alert for the grab in the burst" "$g" 1
gd_alive && ok "daemon still running" || not_ok "daemon still running"
gd_untouched
gd_since
