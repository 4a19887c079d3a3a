# lab-group: daemon
# lab-needs: gpumon
# lab-timeout: 120
#
# `gpumon daemon --dry-run` with the GPU grabbed by bochs-drm and the audio unbound:
# logs what it would write and writes nothing (drivers, driver_override unchanged, no
# state files, no metrics file, no reset); a real daemon started after it corrects both.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon
gd_need_daemon   # the starting point: both functions on vfio-pci, the config written
gd_stop
gd_grab $GPU bochs-drm
echo $AUDIO >/sys/bus/pci/drivers/vfio-pci/unbind
echo >/sys/bus/pci/devices/$AUDIO/driver_override
before="$(pci_driver $GPU) $(pci_attr $GPU driver_override) $(pci_driver $AUDIO) $(pci_attr $AUDIO driver_override)"
check_eq "before: GPU on bochs-drm, audio unbound, no overrides" "$before" "bochs-drm (null) none (null)"
rm -f "$GD_PROM"
ls -lA --time-style=+%s.%N "$GD_STATE" >"$LAB_TMP/state.before" 2>&1
gd_mark
gd_start --dry-run || fatal "the dry-run daemon runs"
check_cmd "it logs what it would write" wait_until 10 eval 'gd_since | grep -q "dry run: would"'
gd_grab $AUDIO snd_hda_intel   # a grab while it runs: an event to (not) act on
sleep 2
f=$(gd_since_file)
grep 'dry run' "$f" | head -20
check_cmd "a would-write of driver_override for the GPU" grep -q "dry run: would .*vfio-pci.*$GPU/driver_override\|dry run: would.*driver_override.*$GPU\|dry run: would.*$GPU" "$f"
after="$(pci_driver $GPU) $(pci_attr $GPU driver_override) $(pci_driver $AUDIO) $(pci_attr $AUDIO driver_override)"
check_eq "nothing written: drivers and driver_override as before" "$after" "bochs-drm (null) snd_hda_intel (null)"
ls -lA --time-style=+%s.%N "$GD_STATE" >"$LAB_TMP/state.after" 2>&1
check_cmd "no reset history or journal written" test ! -e "$GD_STATE/resets.json" -a ! -e "$GD_STATE/reset-journal.json"
check_cmd "the state directory is untouched (no domain-log positions saved)" \
  cmp -s "$LAB_TMP/state.before" "$LAB_TMP/state.after" || diff "$LAB_TMP/state.before" "$LAB_TMP/state.after"
check_cmd "no metrics textfile written" test ! -e "$GD_PROM"
gd_status_json
check_eq "status via the dry-run daemon: host-driver" "$(jq -r .daemon.dry_run $LAB_TMP/out.json) $(jdev $GPU state)" "true host-driver"
gd_stop
gd_mark
gd_start || fatal "the real daemon runs"
check_cmd "the real daemon corrects both" wait_until 20 gd_both_vfio
gd_untouched
gd_since
