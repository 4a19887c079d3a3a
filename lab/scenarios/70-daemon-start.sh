# lab-group: daemon
# lab-needs: gpumon
# lab-timeout: 90
#
# gpumon daemon at boot: the host drivers (bochs-drm, snd_hda_intel) hold the GPU and its
# audio function; the daemon moves both to vfio-pci, sets driver_override, answers status
# over its socket (source daemon, both ok) and writes a parseable metrics textfile. The
# boot VGA (same IDs) and the NIC keep their drivers. Leaves the daemon running for the
# next scenarios of the group (daemon-*).
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
check_eq "before: GPU on its host driver" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "bochs-drm snd_hda_intel"
gd_config
check_rc "gpumon check-config accepts the lab config" 0 "$GPUMON_BIN" check-config
t0=$EPOCHREALTIME
gd_start || fatal "daemon runs" "$(tail -30 $GD_LOG)"
check_cmd "both functions on vfio-pci" wait_until 20 gd_both_vfio
note "daemon start to both on vfio-pci: $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 )) ms (includes process start under TCG)"
check_eq "driver_override of both functions (sysfs)" "$(pci_attr $GPU driver_override) $(pci_attr $AUDIO driver_override)" "vfio-pci vfio-pci"
check_cmd "/dev/vfio/<group> of the GPU exists" test -c "/dev/vfio/$(pci_group $GPU)"

gd_status_json
check_eq "gpumon status --json exit status" "$GPUMON_RC" 0
check_eq "status answered by the daemon" "$(jq -r .source $LAB_TMP/out.json)" daemon
for d in $GPU $AUDIO; do
  check_eq "$d state" "$(jdev $d state)" "$(expected_state $d true)"
  check_eq "$d state is ok" "$(jdev $d state)" ok
  check_device_matches_sysfs $d
done
check_eq "daemon pid in status" "$(jq -r .daemon.pid $LAB_TMP/out.json)" "$GD_PID"

# metrics textfile: node_exporter format, every sample line parseable
check_cmd "metrics textfile written" wait_until 5 test -s "$GD_PROM"
bad=0 samples=0
while IFS= read -r l; do
  case $l in
    "# HELP "*|"# TYPE "*) continue ;;
    "") continue ;;
  esac
  samples=$((samples + 1))
  [[ "$l" =~ ^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\",?)*\})?\ [-+0-9.eE]+(\ [0-9]+)?$ ]] || { bad=$((bad + 1)); echo "unparseable: $l"; }
done <"$GD_PROM"
check_eq "metrics: every line parses (of $samples samples)" "$bad" 0
check_cmd "metrics: TYPE lines for every family" grep -q '^# TYPE gpumon_up gauge' "$GD_PROM"
gd_prom_value v 'gpumon_up'; check_eq "gpumon_up" "$v" 1
gd_prom_value v 'gpumon_devices{state="ok"}'; check_eq 'gpumon_devices{state="ok"}' "$v" 2
gd_untouched
gd_alive && ok "daemon still running" || not_ok "daemon still running" "$(tail -20 $GD_LOG)"
cat "$GD_PROM"; cat "$GD_LOG"
