# lab-group: bench-stop
# lab-needs: gpumon
# lab-timeout: 400
#
# Benchmark 4: VM stop -> device verified ready on vfio-pci, BENCH_STOPS (default 10) stops:
#   gpumon     a "VM" holds /dev/vfio/<group>; it is killed (t0); gpumon learns it from the
#              process-events connector, resets the slot (VFIO hot reset) and verifies it
#              (t1 = its "reset slot succeeded ... healthy on vfio-pci" line, read by a
#              builtin tail loop on the log)
#   field hook the workaround gpumon replaces, on the same device: remove GPU and audio,
#              sleep 2, echo 1 > /sys/bus/pci/rescan, two log lines (t0 = start, t1 = the
#              rescan returned); where the functions end is reported
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
N=${BENCH_STOPS:-10}
gd_config '[reset]
max_resets = 1000
window = "1h"
min_interval = "0s"
dedupe_window = "0s"'
SLP_FIFO=$LAB_TMP/sleep.fifo; mkfifo "$SLP_FIFO"; exec {SLP}<>"$SLP_FIFO"
nap() { read -t "$1" -u $SLP; }
stats() { # NAME VALUES_US...
  local name=$1; shift
  local s; s=($(printf '%s\n' "$@" | sort -n)); local n=${#s[@]} med
  if [ $((n % 2)) -eq 1 ]; then med=${s[n / 2]}; else med=$(( (s[n / 2 - 1] + s[n / 2]) / 2 )); fi
  echo "# BENCH stop mode=$name n=$n median_ms=$((med / 1000)) min_ms=$((s[0] / 1000)) max_ms=$((s[n - 1] / 1000))"
  eval "MED_${name//-/_}=$med"
}

gd_start || fatal "daemon runs"
check_cmd "both on vfio-pci" wait_until 20 gd_both_vfio
exec {LOGFD}<"$GD_LOG"
drain_log() { local l; while IFS= read -r -u $LOGFD l; do :; done; }
g_all=() inner=() ok_all=0
for ((i = 0; i < N; i++)); do
  gd_vm_start || break
  nap 1   # the daemon learns the holder (inotify on /dev/vfio) and the group settles
  drain_log
  t0=${EPOCHREALTIME/./}
  kill -KILL $GD_VM_PID
  buf= line= k=0 got=
  while :; do
    if IFS= read -r -u $LOGFD line; then
      line=$buf$line; buf=
      if [[ "$line" == "NOTICE reset "*" succeeded in "* ]]; then got=$line; break; fi
      [[ "$line" == *reset-failed* ]] && { got=$line; break; }
    else
      buf+=$line; nap 0.002
      k=$((k + 1)); [ $k -gt 10000 ] && break
    fi
  done
  t1=${EPOCHREALTIME/./}
  wait $GD_VM_PID 2>/dev/null
  [[ "$got" =~ succeeded\ in\ ([0-9]+)\ ms ]] && inner+=("${BASH_REMATCH[1]}")
  if [[ "$got" == *"healthy on vfio-pci"* ]] && gd_both_vfio; then ok_all=$((ok_all + 1)); g_all+=("$((t1 - t0))"); fi
  nap 0.3
done
check_eq "gpumon: every stop ended verified on vfio-pci" "$ok_all" "$N"
echo "# samples_us mode=gpumon: ${g_all[*]}"
echo "# gpumon's own reset step times (ms): ${inner[*]}"
[ ${#g_all[@]} -gt 0 ] && stats gpumon "${g_all[@]}"
gd_stop

# the field hook
h_all=() ends=()
for ((i = 0; i < N; i++)); do
  pci_bind_vfio $GPU; pci_bind_vfio $AUDIO   # as the VM left them
  t0=${EPOCHREALTIME/./}
  echo 1 >/sys/bus/pci/devices/$GPU/remove
  echo 1 >/sys/bus/pci/devices/$AUDIO/remove
  echo "field-hook: removed $GPU $AUDIO" >>"$LAB_TMP/hook.log"
  sleep 2
  echo 1 >/sys/bus/pci/rescan
  echo "field-hook: rescanned" >>"$LAB_TMP/hook.log"
  t1=${EPOCHREALTIME/./}
  h_all+=("$((t1 - t0))")
  ends+=("$(pci_driver $GPU)/$(pci_driver $AUDIO)")
done
echo "# samples_us mode=field-hook: ${h_all[*]}"
echo "# field hook: drivers after each run (GPU/audio): ${ends[*]}"
stats field-hook "${h_all[@]}"
if [ -n "${MED_gpumon:-}" ]; then
  hm=$(printf '%s\n' "${h_all[@]}" | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:int((a[NR/2]+a[NR/2+1])/2)}')
  echo "# BENCH stop ratio gpumon/field-hook=$(( MED_gpumon * 1000 / hm ))/1000"
  check_cmd "gpumon median <= 1/5 of the field hook's" test $(( MED_gpumon * 5 )) -le "$hm"
fi
v=0; for e in "${ends[@]}"; do [ "$e" = vfio-pci/vfio-pci ] && v=$((v + 1)); done
note "field hook ended on vfio-pci $v of $N times"
pci_bind_vfio $GPU; pci_bind_vfio $AUDIO
gd_untouched
