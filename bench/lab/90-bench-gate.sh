# lab-group: bench-gate
# lab-needs: gpumon
# lab-timeout: 900
#
# Benchmark 9: the admission gate.
# (a) hook answer for a ready GPU: hooks/qemu <dom> prepare begin - < domain XML (binary path,
#     gpumon hook asks the daemon), start -> exit, BENCH_GATE_RUNS (default 50) runs, against a
#     hook that only runs `true` (the same sh wrapper shape: `/bin/sh -c true`). p50/p95.
# (b) with the real libvirt 9.0.0 / QEMU 7.2 (TCG): `virsh destroy` called -> slot healthy on
#     vfio-pci and the gate open (a `gpumon hook ... prepare begin` answering 0; it waits while
#     the reset runs, and the hook's `release end` made the stop due before destroy returned)
#     and, for the guide's hook, -> its rescan done (destroy runs it synchronously). BENCH_VMS
#     (default 3) VMs per mode: gpumon with reset_methods ["slot"], gpumon with
#     ["remove-rescan"] (after the registration-order trick), and the guide's hook (remove GPU
#     and audio, sleep 2, rescan) run by libvirt itself on `release end`, with gpumon stopped.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
. "$LAB_REPO/lab/guest/libvirt-lib.sh"
lab_need_gpumon
N=${BENCH_GATE_RUNS:-50}
V=${BENCH_VMS:-3}
pct() { # NAME P VALUES_US... -> prints ms with one decimal
  local name=$1 p=$2; shift 2
  local s; s=($(printf '%s\n' "$@" | sort -n)); local n=${#s[@]} i
  i=$(( (n * p + 99) / 100 - 1 )); [ $i -lt 0 ] && i=0
  printf '%d.%d' $((s[i] / 1000)) $(( (s[i] % 1000) / 100 ))
}
median() { local s; s=($(printf '%s\n' "$@" | sort -n)); local n=${#s[@]}; echo $(( s[n / 2] / 1000 )); }

lv_setup || fatal "libvirtd runs"
lv_gd_restart || fatal "daemon runs"
check_cmd "both on vfio-pci" wait_until 30 gd_both_vfio
lv_domain_xml bench-gate no >"$LAB_TMP/gate.xml"

# --- (a) the gate's answer ----------------------------------------------------------------
gate=() none=()
for ((i = 0; i < N + 3; i++)); do
  t0=${EPOCHREALTIME/./}
  GPUMON_BIN=$GPUMON_BIN "$LAB_REPO/hooks/qemu" bench-gate prepare begin - <"$LAB_TMP/gate.xml" >/dev/null 2>"$LAB_TMP/gate.err"
  rc=$?
  t1=${EPOCHREALTIME/./}
  [ $rc -eq 0 ] || { not_ok "gate answered 0 for a ready GPU" "$(cat "$LAB_TMP/gate.err")"; break; }
  [ $i -ge 3 ] && gate+=($((t1 - t0)))   # 3 warm-up runs
  t0=${EPOCHREALTIME/./}
  /bin/sh -c true <"$LAB_TMP/gate.xml"
  t1=${EPOCHREALTIME/./}
  [ $i -ge 3 ] && none+=($((t1 - t0)))
done
check_eq "gate runs measured" "${#gate[@]}" "$N"
echo "# BENCH gate mode=gpumon-hook n=${#gate[@]} p50_ms=$(pct g 50 "${gate[@]}") p95_ms=$(pct g 95 "${gate[@]}")"
echo "# BENCH gate mode=true n=${#none[@]} p50_ms=$(pct t 50 "${none[@]}") p95_ms=$(pct t 95 "${none[@]}")"

# --- (b) destroy -> healthy and gate open ---------------------------------------------------
gate_open() { "$GPUMON_BIN" hook bench-vm prepare begin - <"$LAB_TMP/gate.xml" >/dev/null 2>&1; }
lv_define bench-vm no
run_mode() { # MODE: V VMs, prints the median
  local mode=$1 dom=${2:-bench-vm} k t0 t1 res=()
  for ((k = 0; k < V; k++)); do
    lv_vm_start $dom || { not_ok "virsh start ($mode)" "$LV_START_ERR"; return 1; }
    t0=${EPOCHREALTIME/./}
    virsh -q destroy $dom >/dev/null
    if [ "$mode" = guide-hook ]; then
      wait_until 60 eval '[ -e $LV_RUN/guide.done ]'
    else
      wait_until 90 eval 'gate_open && gd_both_vfio'
    fi
    t1=${EPOCHREALTIME/./}
    res+=($((t1 - t0)))
    rm -f "$LV_RUN/guide.done"
    note "$mode run $k: $(( (t1 - t0) / 1000 )) ms; drivers $(pci_driver $GPU) $(pci_driver $AUDIO)"
  done
  echo "# BENCH vm-stop mode=$mode n=${#res[@]} median_ms=$(median "${res[@]}")"
}
gd_mark; run_mode gpumon-slot
gd_stop
check_cmd "registration trick" lv_registration_trick
GD_GPU_EXTRA='reset_methods = ["remove-rescan"]' lv_gd_config "$LV_RESET_TOML"
gd_start || fatal "daemon runs"
gd_mark; run_mode gpumon-remove-rescan
gd_stop
# The guide's hook, as libvirt runs it (release end), with gpumon stopped; the functions are
# bound back to vfio-pci by the override the rescan loses -> report where they end.
cat >"$LAB_TMP/guide-hook" <<GUIDE
#!/bin/sh
cat >/dev/null
if [ "\$2 \$3" = "release end" ]; then
  echo 1 >/sys/bus/pci/devices/$AUDIO/remove
  echo 1 >/sys/bus/pci/devices/$GPU/remove
  sleep 2
  echo 1 >/sys/bus/pci/rescan
  : >$LV_RUN/guide.done
fi
exit 0
GUIDE
chmod +x "$LAB_TMP/guide-hook"
cp "$LV_HOOK" "$LAB_TMP/hook.saved"; cp "$LAB_TMP/guide-hook" "$LV_HOOK"
# managed='yes': after the guide's rescan the functions are on their host drivers again (the
# override is gone), and libvirt must bind vfio-pci itself at the next start
lv_define bench-guide yes
run_mode guide-hook bench-guide
note "after the guide's hook: $GPU on $(pci_driver $GPU), $AUDIO on $(pci_driver $AUDIO)"
cp "$LAB_TMP/hook.saved" "$LV_HOOK"
gd_untouched
