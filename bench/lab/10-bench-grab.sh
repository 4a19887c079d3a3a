# lab-group: bench-grab
# lab-needs: gpumon
# lab-timeout: 400
#
# Benchmark 1: host-driver grab -> back on vfio-pci, BENCH_GRABS (default 20) grabs each for
#   gpumon    the daemon (kernel uevent source)
#   floor     a bash process reading `udevadm monitor --kernel` that, on the GPU's bind
#             line, does the same sysfs writes with builtins (driver_override, unbind,
#             drivers_probe): the least any enforcer can do
#   driverctl the same watcher running `driverctl set-override ADDR vfio-pci` instead
# One grab = unbind vfio-pci, clear driver_override, bind bochs-drm (the bind write runs
# bochs-drm's probe). Time from just before the bind write to the first read of the
# driver link showing vfio-pci (a builtin spin loop, ~0.1 ms resolution).
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
N=${BENCH_GRABS:-20}
GD_DAEMON_EXTRA="flap_limit = 10000"   # 21 grabs in a row: keep the flapping back-off (limit 5) out of the measurement
gd_config
modprobe vfio-pci
pci_bind_vfio $GPU; pci_bind_vfio $AUDIO
check_eq "start: both on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
SLP_FIFO=$LAB_TMP/sleep.fifo; mkfifo "$SLP_FIFO"; exec {SLP}<>"$SLP_FIFO"
nap() { read -t "$1" -u $SLP; }   # sleep without an exec

one_grab() { # VAR: microseconds from the bind write to vfio-pci seen; -1 on timeout
  local dev=/sys/bus/pci/devices/$GPU d t0 t1 k=0
  echo "$GPU" >"$dev/driver/unbind"
  echo >"$dev/driver_override"
  t0=${EPOCHREALTIME/./}
  echo "$GPU" >/sys/bus/pci/drivers/bochs-drm/bind
  while :; do
    link_get d "$dev/driver"
    [ "$d" = vfio-pci ] && break
    k=$((k + 1)); [ $k -gt 2000000 ] && { printf -v "$1" -- -1; return; }
    [ $((k % 1000)) -eq 0 ] && { t1=${EPOCHREALTIME/./}; [ $(( t1 - t0 )) -gt 20000000 ] && { printf -v "$1" -- -1; return; }; }
  done
  t1=${EPOCHREALTIME/./}
  printf -v "$1" '%s' "$((t1 - t0))"
}

run_mode() { # MODE
  local i us all=() missed=0
  one_grab us   # warm-up, not counted
  nap 0.5
  for ((i = 0; i < N; i++)); do
    one_grab us
    if [ "$us" -lt 0 ]; then missed=$((missed + 1)); pci_bind_vfio $GPU; else all+=("$us"); fi
    nap 0.4
  done
  local sorted; sorted=($(printf '%s\n' "${all[@]}" | sort -n))
  local n=${#sorted[@]} med p95
  if [ $n -gt 0 ]; then
    if [ $((n % 2)) -eq 1 ]; then med=${sorted[n / 2]}; else med=$(( (sorted[n / 2 - 1] + sorted[n / 2]) / 2 )); fi
    p95=${sorted[$(( (95 * n + 99) / 100 - 1 ))]}
    echo "# BENCH grab mode=$1 n=$n missed=$missed median_ms=$((med / 1000)).$(printf %03d $((med % 1000))) p95_ms=$((p95 / 1000)).$(printf %03d $((p95 % 1000))) min_ms=$((sorted[0] / 1000)) max_ms=$((sorted[n - 1] / 1000))"
    eval "MED_$1=$med"
  fi
  echo "# samples_us mode=$1: ${all[*]}"
  check_eq "$1: every grab corrected" "$missed" 0
}

# --- a bash watcher: the floor, or driverctl --------------------------------------------
cat >"$LAB_TMP/watcher.sh" <<'W'
# $1 = floor|driverctl ; stdin = udevadm monitor --kernel lines
GPU=$2 dev=/sys/bus/pci/devices/$2
while read -r src action path rest; do
  [ "$action" = bind ] && [ "${path##*/}" = "$GPU" ] || continue
  here=$PWD; cd -P "$dev/driver" 2>/dev/null && d=${PWD##*/} || d=none; cd "$here"
  [ "$d" = vfio-pci ] && continue
  if [ "$1" = floor ]; then
    echo vfio-pci >"$dev/driver_override"
    echo "$GPU" >"$dev/driver/unbind"
    echo "$GPU" >/sys/bus/pci/drivers_probe
  else
    driverctl --nosave set-override "$GPU" vfio-pci
  fi
done
W
start_watcher() { # MODE
  coproc WATCH { SYSTEMD_IGNORE_CHROOT=1 stdbuf -oL udevadm monitor --kernel --subsystem-match=pci | bash "$LAB_TMP/watcher.sh" "$1" "$GPU"; }
  WATCH_PID=$WATCH_PID
  nap 1.5   # udevadm monitor binds its socket
}
stop_watcher() { pkill -P "$WATCH_PID" 2>/dev/null; kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; }

# gpumon
gd_start || fatal "daemon runs"
wait_until 20 gd_both_vfio
run_mode gpumon
gd_stop
gd_log_count g 'alert=host-driver-grab'
check_eq "gpumon: one host-driver-grab alert per grab" "$g" "$((N + 1))"

pci_bind_vfio $GPU
start_watcher floor
run_mode floor
stop_watcher

pci_bind_vfio $GPU
start_watcher driverctl
run_mode driverctl
stop_watcher

if [ -n "${MED_gpumon:-}" ] && [ -n "${MED_floor:-}" ] && [ -n "${MED_driverctl:-}" ]; then
  echo "# BENCH grab ratio gpumon/floor=$(( MED_gpumon * 100 / MED_floor ))% gpumon/driverctl=$(( MED_gpumon * 100 / MED_driverctl ))%"
  [ $(( MED_gpumon * 100 )) -le $(( MED_floor * 150 )) ] && note "target met: median within 1.5x the floor" || note "target MISSED: median above 1.5x the floor"
  [ "$MED_gpumon" -lt "$MED_driverctl" ] && note "target met: faster than driverctl" || note "target MISSED: not faster than driverctl"
fi
gd_untouched
