# lab-group: bench-remove-rescan
# lab-needs: gpumon
# lab-timeout: 400
#
# Benchmark 5 (issue 10): a remove+rescan of the GPU slot ending on vfio-pci, side by side in one boot,
# BENCH_STOPS (default 10) rounds each, alternating:
#   floor   the shell doing what gpumon does, with builtins: new_id of both IDs on vfio-pci, 1 > remove
#           of audio then GPU, 1 > the bridge's pci_bus/<bus>/rescan, wait until both are bound to vfio-pci,
#           driver_override on both, remove_id of both
#   gpumon  `gpumon reset GPU --method remove-rescan` through the daemon (wall time of the command), and
#           the engine's own "succeeded in N ms" (journal fsync, holder checks, verification included)
# Needs vfio-pci registered before bochs and snd_hda_intel: the module-order trick of kill9-reset.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
N=${BENCH_STOPS:-10}
SLP_FIFO=$LAB_TMP/sleep.fifo; mkfifo "$SLP_FIFO"; exec {SLP}<>"$SLP_FIFO"
nap() { read -t "$1" -u $SLP; }
stats() { # NAME VALUES_US...
  local name=$1; shift
  local s; s=($(printf '%s\n' "$@" | sort -n)); local n=${#s[@]} med
  if [ $((n % 2)) -eq 1 ]; then med=${s[n / 2]}; else med=$(( (s[n / 2 - 1] + s[n / 2]) / 2 )); fi
  echo "# BENCH remove-rescan mode=$name n=$n median_ms=$((med / 1000)) min_ms=$((s[0] / 1000)) max_ms=$((s[n - 1] / 1000))"
  eval "MED_${name//-/_}=$med"
}

# the registration-order trick (see lab/scenarios/86-kill9-reset.sh)
bochs_mod=none
for m in bochs bochs_drm; do [ -d /sys/module/$m ] && bochs_mod=$m; done
gd_config '[reset]
max_resets = 1000
window = "1h"
min_interval = "0s"
dedupe_window = "0s"'
gd_start || fatal "daemon runs"
check_cmd "both on vfio-pci" wait_until 20 gd_both_vfio
echo $VGA >/sys/bus/pci/drivers/bochs-drm/unbind
rmmod $bochs_mod && modprobe $bochs_mod && rmmod snd_hda_intel && modprobe snd_hda_intel
check_eq "boot VGA rebound" "$(pci_driver $VGA)" bochs-drm

bridge=$(readlink -f /sys/bus/pci/devices/$GPU_BRIDGE)
bus=$(ls $bridge/pci_bus | head -1)
read -r gv </sys/bus/pci/devices/$GPU/vendor; read -r gd </sys/bus/pci/devices/$GPU/device
read -r av </sys/bus/pci/devices/$AUDIO/vendor; read -r ad </sys/bus/pci/devices/$AUDIO/device
ids=("${gv#0x} ${gd#0x}" "${av#0x} ${ad#0x}")
floor_round() {
  local id d
  for id in "${ids[@]}"; do echo "$id" >/sys/bus/pci/drivers/vfio-pci/new_id 2>/dev/null; done
  echo 1 >/sys/bus/pci/devices/$AUDIO/remove
  echo 1 >/sys/bus/pci/devices/$GPU/remove
  echo 1 >$bridge/pci_bus/$bus/rescan
  until gd_both_vfio; do nap 0.005; done
  for d in $GPU $AUDIO; do echo vfio-pci >/sys/bus/pci/devices/$d/driver_override; done
  for id in "${ids[@]}"; do echo "$id" >/sys/bus/pci/drivers/vfio-pci/remove_id 2>/dev/null; done
}
f_all=() g_all=() inner=() ok=0
for ((i = 0; i < N; i++)); do
  t0=${EPOCHREALTIME/./}; floor_round; t1=${EPOCHREALTIME/./}
  f_all+=("$((t1 - t0))")
  nap 0.3
  t0=${EPOCHREALTIME/./}
  out=$("$GPUMON_BIN" reset $GPU --method remove-rescan 2>&1); rc=$?
  t1=${EPOCHREALTIME/./}
  [ $rc -eq 0 ] && gd_both_vfio && { ok=$((ok + 1)); g_all+=("$((t1 - t0))"); }
  [[ "$out" =~ remove-rescan:\ ok\ in\ ([0-9]+)\ ms ]] && inner+=("$((BASH_REMATCH[1] * 1000))")
  [ $rc -eq 0 ] || echo "$out"
  nap 0.3
done
check_eq "gpumon: every remove-rescan ended on vfio-pci" "$ok" "$N"
echo "# samples_us mode=floor: ${f_all[*]}"
echo "# samples_us mode=gpumon: ${g_all[*]}"
stats floor "${f_all[@]}"
stats gpumon "${g_all[@]}"
stats gpumon-engine "${inner[@]}"
echo "# BENCH remove-rescan ratio gpumon/floor=$(( MED_gpumon * 100 / MED_floor ))% engine/floor=$(( MED_gpumon_engine * 100 / MED_floor ))%"
gd_stop
gd_untouched
