# lab-group: bench-idle
# lab-needs: gpumon
# lab-timeout: 400
#
# Benchmark 2: the daemon idle for BENCH_IDLE_S (default 60) s: CPU time (utime+stime
# from /proc/PID/stat, 10 ms ticks, and the sum of every thread's schedstat run time, ns)
# and VmRSS / VmHWM. Then the cost of unrelated process churn (the process-events
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

run_ns() { # VAR PID: sum of schedstat run time over the process's threads
  local _t _r _rest _s=0
  for _t in /proc/$2/task/*/schedstat; do read -r _r _rest <"$_t"; _s=$((_s + _r)); done
  printf -v "$1" '%s' "$_s"
}
threads() { local _n=0 _t; for _t in /proc/$2/task/*; do _n=$((_n + 1)); done; printf -v "$1" '%s' "$_n"; }

gd_start || fatal "daemon runs"
check_cmd "both on vfio-pci" wait_until 20 gd_both_vfio
nap 5   # let start-up settle (metrics write, module load)
gd_cpu_ticks c0 $GD_PID; run_ns r0 $GD_PID
nap "$IDLE"
gd_cpu_ticks c1 $GD_PID; run_ns r1 $GD_PID
gd_rss_kib rss $GD_PID
hwm=$(awk '/^VmHWM/{print $2}' /proc/$GD_PID/status)
threads nt $GD_PID
echo "# BENCH idle seconds=$IDLE cpu_ticks_ms=$(( (c1 - c0) * 10 )) schedstat_ms=$(( (r1 - r0) / 1000000 )).$(printf %03d $(( (r1 - r0) / 1000 % 1000 ))) rss_kib=$rss hwm_kib=$hwm threads=$nt"
check_cmd "idle CPU over ${IDLE}s <= 10 ms (schedstat $(( (r1 - r0) / 1000 )) us)" test $(( r1 - r0 )) -le 10000000
check_cmd "RSS <= 16 MiB ($rss KiB)" test "$rss" -le 16384

# process churn: 200 short-lived processes (each exit is a proc-connector event for the daemon)
run_ns p0 $GD_PID
for ((i = 0; i < 200; i++)); do /bin/true; done
nap 1
run_ns p1 $GD_PID
echo "# BENCH proc-churn processes=200 daemon_cpu_ms=$(( (p1 - p0) / 1000000 )) per_process_us=$(( (p1 - p0) / 200000 ))"

# the burst
gd_mark
gpumon_json status --json; e0=$(jq -r .daemon.events_seen "$LAB_TMP/out.json")
gd_cpu_ticks b0 $GD_PID; run_ns s0 $GD_PID
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
gd_cpu_ticks b1 $GD_PID; run_ns s1 $GD_PID
f=$(gd_since_file)
gd_log_count g 'alert=host-driver-grab' "$f"
gd_log_count lost 'alert=events-lost' "$f"
# the status calls above cost the daemon a little too; they are counted in (conservative)
echo "# BENCH burst events=$N written_ms=$(( (t1 - t0) / 1000 )) drained_ms=$(( (t2 - t0) / 1000 )) daemon_cpu_ms=$(( (s1 - s0) / 1000000 )) per_event_us=$(( (s1 - s0) / N / 1000 )) seen=$((e1 - e0)) grabs=4 grab_alerts=$g events_lost=$lost"
check_eq "every grab in the burst seen (alerts)" "$g" 4
check_eq "GPU ends on vfio-pci" "$(pci_driver $GPU)" vfio-pci
gd_stop
gd_untouched
