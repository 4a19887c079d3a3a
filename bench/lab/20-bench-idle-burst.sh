# lab-group: bench-idle
# lab-needs: gpumon
# lab-timeout: 400
#
# Benchmark 2: the daemon idle for BENCH_IDLE_S (default 60) s: CPU time (utime+stime
# from /proc/PID/stat, 10 ms ticks: summing threads' schedstat is wrong when threads come
# and go) and VmRSS / VmHWM. Then the cost of unrelated process churn (the process-events
# connector reports every exit on the host): 200 short processes.
# Benchmark 3: a burst of BENCH_BURST (default 10000) `change` uevents with 4 grabs
# spread through it: CPU time per event, and every grab corrected (alerts = grabs).
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
IDLE=${BENCH_IDLE_S:-60}
N=${BENCH_BURST:-10000}
gd_config
SLP_FIFO=$LAB_TMP/sleep.fifo; mkfifo "$SLP_FIFO"; exec {SLP}<>"$SLP_FIFO"
nap() { read -t "$1" -u $SLP; }

threads() { local _n=0 _t; for _t in /proc/$2/task/*; do _n=$((_n + 1)); done; printf -v "$1" '%s' "$_n"; }

gd_start || fatal "daemon runs"
check_cmd "both on vfio-pci" wait_until 20 gd_both_vfio
nap 5   # let start-up settle (metrics write, module load)
gd_cpu_ticks c0 $GD_PID
nap "$IDLE"
gd_cpu_ticks c1 $GD_PID
gd_rss_kib rss $GD_PID
hwm=$(awk '/^VmHWM/{print $2}' /proc/$GD_PID/status)
threads nt $GD_PID
echo "# BENCH idle seconds=$IDLE cpu_ms=$(( (c1 - c0) * 10 )) rss_kib=$rss hwm_kib=$hwm threads=$nt"
grep -E '^(RssAnon|RssFile)' /proc/$GD_PID/status | sed 's/^/# /'
check_cmd "idle CPU over ${IDLE}s <= 10 ms ($(( (c1 - c0) * 10 )) ms)" test $(( (c1 - c0) * 10 )) -le 10
check_cmd "RSS <= 16 MiB ($rss KiB)" test "$rss" -le 16384

# process churn: 200 short-lived processes (each exit is a proc-connector event for the daemon)
gd_cpu_ticks p0 $GD_PID
for ((i = 0; i < 200; i++)); do /bin/true; done
nap 1
gd_cpu_ticks p1 $GD_PID
echo "# BENCH proc-churn processes=200 daemon_cpu_ms=$(( (p1 - p0) * 10 )) per_process_us=$(( (p1 - p0) * 10000 / 200 ))"

# the burst
gd_mark
gpumon_json status --json; e0=$(jq -r .daemon.events_seen "$LAB_TMP/out.json")
gd_cpu_ticks b0 $GD_PID
u=/sys/bus/pci/devices/$GPU/uevent
t0=${EPOCHREALTIME/./}
for ((q = 0; q < 4; q++)); do
  for ((i = 0; i < N / 4 / 2; i++)); do echo change >$u; done
  gd_grab $GPU bochs-drm
  for ((i = 0; i < N / 4 / 2; i++)); do echo change >$u; done
done
t1=${EPOCHREALTIME/./}
# wait for the daemon to drain its queue: status (the enforcer's actor) answers after it
wait_until 120 gd_driver_is $GPU vfio-pci
for ((i = 0; i < 120; i++)); do
  gpumon_json status --json; e1=$(jq -r .daemon.events_seen "$LAB_TMP/out.json")
  [ "$e1" = "${prev:-}" ] && break; prev=$e1; nap 1
done
t2=${EPOCHREALTIME/./}
gd_cpu_ticks b1 $GD_PID
f=$(gd_since_file)
gd_log_count g 'alert=host-driver-grab' "$f"
gd_log_count lost 'alert=events-lost' "$f"
# the status calls above cost the daemon a little too; they are counted in (conservative)
echo "# BENCH burst events=$N written_ms=$(( (t1 - t0) / 1000 )) drained_ms=$(( (t2 - t0) / 1000 )) daemon_cpu_ms=$(( (b1 - b0) * 10 )) per_event_us=$(( (b1 - b0) * 10000 / N )) seen=$((e1 - e0)) grabs=4 grab_alerts=$g events_lost=$lost"
check_eq "every grab in the burst seen (alerts)" "$g" 4
check_eq "GPU ends on vfio-pci" "$(pci_driver $GPU)" vfio-pci
gd_stop
gd_untouched
