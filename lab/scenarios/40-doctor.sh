# lab-group: bind
# lab-needs: gpumon
# lab-timeout: 120
#
# `gpumon doctor` on a real kernel: the checks that read the kernel (IOMMU units and
# groups, loaded vfio modules, selection, group viability, each function's driver)
# must agree with sysfs read here, before and after the manual bind. Checks about
# files of a real installation (grub, modprobe.d, initramfs, libvirt, service) and
# the CPU are not asserted: the lab's root is the host's, not a GPU node's.
# Runs after status-transitions (GPU back on its host drivers), or alone.

GPU=0000:01:00.0 AUDIO=0000:01:00.1
LAB_SELECTED="$GPU $AUDIO"
lab_need_gpumon
lab_write_config /etc/gpumon/gpumon.toml

declare -A DOC=() DOCMSG=()
doctor_json() { # runs gpumon doctor --json; DOC[id|subject]=status, DOCMSG[...]=message
  local k st msg
  "$GPUMON_BIN" doctor --json >"$LAB_TMP/doctor.json" 2>"$LAB_TMP/doctor.err"
  DOCTOR_RC=$?
  DOC=() DOCMSG=()
  jq -r '.checks[] | [.id + "|" + (.subject // ""), .status, .message] | @tsv' \
    "$LAB_TMP/doctor.json" >"$LAB_TMP/doctor.tsv" 2>/dev/null \
    || fatal "gpumon doctor --json prints JSON with a checks array" "exit status $DOCTOR_RC" \
         "stdout: $(head -c 2000 "$LAB_TMP/doctor.json")" "stderr: $(head -c 2000 "$LAB_TMP/doctor.err")"
  while IFS=$'\t' read -r k st msg; do DOC[$k]=$st; DOCMSG[$k]=$msg; done <"$LAB_TMP/doctor.tsv"
}
pass_if() { if "$@" 2>/dev/null; then echo pass; else echo fail; fi; }
modules_loaded() { [ -d /sys/module/vfio ] && [ -d /sys/module/vfio_iommu_type1 ] && [ -d /sys/module/vfio_pci ]; }
on_vfio() { [ "$(pci_driver "$1")" = vfio-pci ]; }

check_kernel_checks() { # PHASE
  local g; g=$(pci_group $GPU)
  check_eq "$1: iommu (dmar0 and groups exist)" "${DOC[iommu|]:-<none>}" \
    "$(pass_if test -e /sys/class/iommu/dmar0 -a -e /sys/kernel/iommu_groups/0)"
  check_eq "$1: vfio-loaded" "${DOC[vfio-loaded|]:-<none>}" "$(pass_if modules_loaded)"
  check_eq "$1: selection" "${DOC[selection|]:-<none>}" pass
  check_contains "$1: selection names the GPU" "${DOCMSG[selection|]:-}" "$GPU"
  check_contains "$1: selection names its audio function" "${DOCMSG[selection|]:-}" "$AUDIO"
  check_eq "$1: iommu-group (group $g)" "${DOC[iommu-group|group $g]:-<none>}" \
    "$( [ "$(sysfs_group_viable $GPU)" = true ] && echo pass || echo fail)"
  for d in $GPU $AUDIO; do
    check_eq "$1: driver $d (on $(pci_driver $d))" "${DOC[driver|$d]:-<none>}" "$(pass_if on_vfio $d)"
  done
  local fails; fails=$(grep -c $'\tfail\t' "$LAB_TMP/doctor.tsv")
  check_eq "$1: exit status 2 exactly when a check failed ($fails failed)" "$DOCTOR_RC" \
    "$( [ "$fails" -gt 0 ] && echo 2 || { grep -q $'\twarn\t' "$LAB_TMP/doctor.tsv" && echo 1 || echo 0; })"
}

doctor_json
note "before the bind: $(cut -f1,2 "$LAB_TMP/doctor.tsv" | tr '\t\n' '= ')"
check_kernel_checks before

modprobe vfio-pci
for d in $GPU $AUDIO; do on_vfio $d || check_cmd "manual bind of $d" pci_bind_vfio $d; done
doctor_json
note "after the bind: $(cut -f1,2 "$LAB_TMP/doctor.tsv" | tr '\t\n' '= ')"
check_kernel_checks after
check_eq "after: vfio-loaded passes" "${DOC[vfio-loaded|]}" pass
check_eq "after: driver $GPU passes" "${DOC[driver|$GPU]}" pass
check_eq "after: driver $AUDIO passes" "${DOC[driver|$AUDIO]}" pass
note "reset check for $GPU (reset_method now: $(pci_attr $GPU reset_method)): ${DOC[reset|$GPU]:-none}: ${DOCMSG[reset|$GPU]:-}"
