# lab-group: bench-grab
# lab-needs: gpumon
# lab-timeout: 120
#
# Diagnostic for the idle benchmark: what the idle daemon does. RSS split (anon / file),
# its threads, and `strace -f` of 20 idle seconds (syscall counts and the first calls).
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_config
gd_start || fatal "daemon runs"
check_cmd "both on vfio-pci" wait_until 20 gd_both_vfio
sleep 5
grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|VmHWM|Threads)' /proc/$GD_PID/status | sed 's/^/# /'
for t in /proc/$GD_PID/task/*; do echo "# thread ${t##*/} $(cat $t/comm) $(cut -d' ' -f14,15 $t/stat)"; done
gd_cpu_ticks c0 $GD_PID
timeout 20 strace -f -tt -p $GD_PID -o "$LAB_TMP/strace.txt" 2>/dev/null
gd_cpu_ticks c1 $GD_PID
echo "# BENCH idle-why cpu_ticks_ms_20s_under_strace=$(( (c1 - c0) * 10 )) syscalls=$(wc -l <"$LAB_TMP/strace.txt")"
awk '{print $3}' "$LAB_TMP/strace.txt" | sed 's/(.*//' | sort | uniq -c | sort -rn | head -15 | sed 's/^/# /'
head -40 "$LAB_TMP/strace.txt" | sed 's/^/# /'
# the same 20 s without strace
gd_cpu_ticks c0 $GD_PID; sleep 20; gd_cpu_ticks c1 $GD_PID
echo "# BENCH idle-why cpu_ticks_ms_20s=$(( (c1 - c0) * 10 ))"
ok "diagnostic done"
gd_stop
