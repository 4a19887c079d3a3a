# Helpers for lab scenarios. Sourced (bash) by lab/guest/stage2 before each
# scenario, and by the interactive `lab/run --shell`.
#
# A scenario is a bash script in lab/scenarios/. It runs as root in the guest
# chroot; sysfs, /dev and /proc are the guest kernel's. It reports with the check_*
# functions below: every check prints one line, "ok - ..." or "FAIL - ...", and the
# scenario fails if any check failed or if the script exits non-zero. Scenarios do
# not run under `set -e`, so one failed check does not hide the next ones; use
# `fatal` to stop early when continuing makes no sense. Every check_* returns 1 when
# it failed, so `check_eq ... || cat "$some_log"` adds context to a failure.

LAB_CHECKS=0
LAB_FAILS=0
LAB_TMP=${LAB_TMP:-$(mktemp -d /tmp/lab.XXXXXX)}
GPUMON_BIN=${GPUMON_BIN:-${LAB_REPO:-}/.build/release/gpumon}

lab_begin() { # NAME: called by stage2 before the scenario is sourced
  LAB_SCENARIO=$1
  trap lab_end EXIT
  trap lab_killed TERM INT
  echo "# scenario $1 (kernel $(uname -r))"
}

lab_killed() {
  trap - EXIT
  echo "# FAILED: killed by a signal after $LAB_CHECKS checks ($LAB_FAILS failed); the scenario's timeout?"
  exit 143
}

lab_end() {
  local rc=$?
  trap - EXIT
  if [ "$LAB_FAILS" -gt 0 ]; then
    echo "# FAILED: $LAB_FAILS of $LAB_CHECKS checks failed"
    exit 1
  elif [ "$rc" -ne 0 ]; then
    echo "# FAILED: scenario exited with status $rc after $LAB_CHECKS checks"
    exit "$rc"
  elif [ "$LAB_CHECKS" -eq 0 ]; then
    echo "# FAILED: scenario made no checks"
    exit 1
  fi
  echo "# passed: $LAB_CHECKS checks"
  exit 0
}

# --- reporting ---------------------------------------------------------------

ok() { LAB_CHECKS=$((LAB_CHECKS + 1)); echo "ok - $*"; }

not_ok() { # DESC [DETAIL...]
  LAB_CHECKS=$((LAB_CHECKS + 1)); LAB_FAILS=$((LAB_FAILS + 1))
  echo "FAIL - $1"
  shift
  local l
  for l in "$@"; do printf '       %s\n' "$l"; done
  return 1
}

fatal() { not_ok "$@"; echo "# stopping: fatal check failed"; exit 1; }

note() { echo "# $*"; }

# check_eq DESC ACTUAL EXPECTED
check_eq() {
  if [ "$2" = "$3" ]; then ok "$1 ($2)"
  else not_ok "$1" "expected: '$3'" "actual:   '$2'"; fi
}

# check_ne DESC ACTUAL UNEXPECTED
check_ne() {
  if [ "$2" != "$3" ]; then ok "$1 ($2)"
  else not_ok "$1" "must not be: '$3'"; fi
}

# check_contains DESC ACTUAL SUBSTRING
check_contains() {
  if [[ "$2" == *"$3"* ]]; then ok "$1 ($2)"
  else not_ok "$1" "expected to contain: '$3'" "actual: '$2'"; fi
}

# check_match DESC ACTUAL EXTENDED-REGEX
check_match() {
  if [[ "$2" =~ $3 ]]; then ok "$1 ($2)"
  else not_ok "$1" "expected to match: $3" "actual: '$2'"; fi
}

# check_cmd DESC CMD...: CMD must exit 0
check_cmd() {
  local desc=$1 out rc; shift
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then ok "$desc"
  else not_ok "$desc" "command: $*" "exit status $rc" "${out:-<no output>}"; fi
}

# check_rc DESC EXPECTED-STATUS CMD...
check_rc() {
  local desc=$1 want=$2 out rc; shift 2
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq "$want" ]; then ok "$desc (exit $rc)"
  else not_ok "$desc" "command: $*" "expected exit $want, got $rc" "${out:-<no output>}"; fi
}

# --- reading sysfs independently of gpumon -------------------------------------
# Under TCG every exec of a dynamically linked program costs 30-300 ms, so these
# helpers use bash builtins only (read, cd -P, globbing) and never exec.

pci_path() { echo "/sys/bus/pci/devices/$1"; }

pci_exists() { [ -e "/sys/bus/pci/devices/$1" ]; }

# pci_attr BDF ATTR: the attribute's first line, "<absent>" or "<unreadable>"
pci_attr() {
  local f=/sys/bus/pci/devices/$1/$2 v=
  [ -e "$f" ] || { echo "<absent>"; return 0; }
  if { read -r v || true; } <"$f" 2>/dev/null; then echo "$v"; else echo "<unreadable>"; fi
}

# link_name PATH: last component of the symlink's target, or "none"
link_name() { ( cd -P "$1" 2>/dev/null && echo "${PWD##*/}" ) || echo none; }

# pci_driver BDF: name of the bound driver, or "none"
pci_driver() { link_name "/sys/bus/pci/devices/$1/driver"; }

# pci_group BDF: IOMMU group number, or "none"
pci_group() { link_name "/sys/bus/pci/devices/$1/iommu_group"; }

# pci_ids BDF: "vvvv:dddd" in lower case, without 0x
pci_ids() {
  local v d
  read -r v <"/sys/bus/pci/devices/$1/vendor"; read -r d <"/sys/bus/pci/devices/$1/device"
  echo "${v#0x}:${d#0x}"
}

# pci_group_members N: the BDFs in IOMMU group N, one a line, sorted
pci_group_members() {
  local d
  for d in /sys/kernel/iommu_groups/"$1"/devices/*; do [ -e "$d" ] && echo "${d##*/}"; done
}

# pci_find IDS [CLASS-PREFIX]: BDFs with vendor:device IDS, one a line
pci_find() {
  local d
  for d in /sys/bus/pci/devices/*; do
    d=${d##*/}
    [ "$(pci_ids "$d")" = "$1" ] || continue
    [ -z "${2:-}" ] || [[ "$(pci_attr "$d" class)" == "$2"* ]] || continue
    echo "$d"
  done
}

# pci_bind_vfio BDF: the guide's manual procedure, step by step, as an operator
# would type it: driver_override, unbind from the current driver, drivers_probe.
pci_bind_vfio() {
  local dev=/sys/bus/pci/devices/$1
  echo vfio-pci >"$dev/driver_override" || return 1
  if [ -e "$dev/driver" ]; then echo "$1" >"$dev/driver/unbind" || return 1; fi
  echo "$1" >/sys/bus/pci/drivers_probe || return 1
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_until() {
  local limit=$1 i=0; shift
  while ! "$@" 2>/dev/null; do
    i=$((i + 1))
    [ $i -ge $((limit * 10)) ] && return 1
    sleep 0.1
  done
}

# --- gpumon ---------------------------------------------------------------------

lab_need_gpumon() {
  [ -x "$GPUMON_BIN" ] || fatal "gpumon binary present at $GPUMON_BIN" \
    "build it on the host with 'swift build -c release' or set GPUMON_BIN"
}

# lab_write_config [PATH]: the lab's standard config (the GPU by IDs, with companions)
lab_write_config() {
  local p=${1:-/etc/gpumon/gpumon.toml}
  mkdir -p "$(dirname "$p")"
  cat >"$p" <<'EOF'
[[gpu]]
ids = ["1234:1111"]
companions = true
EOF
}

# gpumon_json ARGS...: runs `gpumon ARGS`, stdout to $LAB_TMP/out.json, stderr to
# $LAB_TMP/err; sets GPUMON_RC; loads every device field into the array JDEV (one
# jq run: jq costs ~0.3 s per exec under TCG). Sets GPUMON_JSON_OK=1 if stdout was
# JSON with a "devices" array of objects. Prints nothing.
declare -A JDEV=()
gpumon_json() {
  local a k v
  "$GPUMON_BIN" "$@" >"$LAB_TMP/out.json" 2>"$LAB_TMP/err"
  GPUMON_RC=$?
  JDEV=()
  GPUMON_JSON_OK=0
  jq -r '
    .devices[] | .address as $a | to_entries[]
    | [$a, .key, (if (.value | type) == "string" then .value else (.value | tojson) end)]
    | @tsv' "$LAB_TMP/out.json" >"$LAB_TMP/out.tsv" 2>/dev/null || return 0
  GPUMON_JSON_OK=1
  while IFS=$'\t' read -r a k v; do JDEV["$a|$k"]=$v; done <"$LAB_TMP/out.tsv"
  return 0
}

# jdev BDF FIELD: the field of device BDF in the last gpumon_json output.
# Strings print raw, null as "null", arrays/objects as compact JSON;
# "<no-device>" if gpumon did not list BDF, "<no-field>" if the device lacks FIELD.
jdev() {
  if [ -n "${JDEV["$1|$2"]+x}" ]; then echo "${JDEV["$1|$2"]}"
  elif [ -n "${JDEV["$1|address"]+x}" ]; then echo "<no-field>"
  else echo "<no-device>"; fi
}

# jaddrs: addresses gpumon listed in the last gpumon_json output, sorted
jaddrs() {
  local k
  for k in "${!JDEV[@]}"; do [ "${k#*|}" = address ] && echo "${k%%|*}"; done | sort
}

# --- gpumon's view against the kernel's -----------------------------------------------

# sysfs_reset_methods_json BDF: reset_method as gpumon must report it: ["a","b"], or
# null when the attribute is absent (the kernel hides it when no method exists)
sysfs_reset_methods_json() {
  local v m out=
  v=$(pci_attr "$1" reset_method)
  if [ "$v" = "<absent>" ]; then echo null; return; fi
  for m in $v; do out+="${out:+,}\"$m\""; done
  echo "[$out]"
}

# LAB_SELECTED: the addresses the config is expected to select (set by the scenario).
LAB_SELECTED=${LAB_SELECTED:-}

# sysfs_group_viable BDF: gpumon's "viable under the config", computed from sysfs:
# true when every endpoint (not a bridge) in BDF's IOMMU group is selected
# ($LAB_SELECTED), unbound, or on vfio-pci; null when BDF has no group.
# (The kernel's own rule, for opening the group with VFIO, is stricter: it ignores
# the config; see sysfs_group_vfio_ready.)
sysfs_group_viable() {
  local g m
  g=$(pci_group "$1")
  [ "$g" = none ] && { echo null; return; }
  for m in $(pci_group_members "$g"); do
    [ -d "/sys/bus/pci/devices/$m/pci_bus" ] && continue   # a bridge
    [[ " $LAB_SELECTED " == *" $m "* ]] && continue
    case $(pci_driver "$m") in none|vfio-pci) ;; *) echo false; return ;; esac
  done
  echo true
}

# sysfs_group_vfio_ready BDF: the kernel's rule: true when every device in the group is
# unbound or on vfio-pci, pci-stub or pcieport; null when BDF has no group
sysfs_group_vfio_ready() {
  local g m
  g=$(pci_group "$1")
  [ "$g" = none ] && { echo null; return; }
  for m in $(pci_group_members "$g"); do
    case $(pci_driver "$m") in none|vfio-pci|pci-stub|pcieport) ;; *) echo false; return ;; esac
  done
  echo true
}

# --- variants that set a variable instead of printing: no subshell (~7 ms each) ----
# (their locals carry a prefix so that they never shadow the caller's VAR)

# jget VAR BDF FIELD: VAR=$(jdev BDF FIELD)
jget() {
  if [ -n "${JDEV["$2|$3"]+x}" ]; then printf -v "$1" '%s' "${JDEV["$2|$3"]}"
  elif [ -n "${JDEV["$2|address"]+x}" ]; then printf -v "$1" '%s' "<no-field>"
  else printf -v "$1" '%s' "<no-device>"; fi
}

# attr_get VAR BDF ATTR: VAR=$(pci_attr BDF ATTR)
attr_get() {
  local _ag_f=/sys/bus/pci/devices/$2/$3 _ag_v=
  if [ ! -e "$_ag_f" ]; then _ag_v="<absent>"
  elif ! { read -r _ag_v || true; } <"$_ag_f" 2>/dev/null; then _ag_v="<unreadable>"; fi
  printf -v "$1" '%s' "$_ag_v"
}

# link_get VAR PATH: VAR=$(link_name PATH)
link_get() {
  local _lg_here=$PWD
  if cd -P "$2" 2>/dev/null; then printf -v "$1" '%s' "${PWD##*/}"; cd "$_lg_here" || return 1
  else printf -v "$1" '%s' none; fi
}

# lspci_name_get VAR BDF: the device name pci.ids gives (lspci -mm), empty if none.
# One lspci run per scenario, cached (call it outside $(...) for the cache to stick).
declare -A LAB_LSPCI=()
lspci_name_get() {
  local _ln_slot _ln_dev _ln_rest
  if [ ${#LAB_LSPCI[@]} -eq 0 ]; then
    LAB_LSPCI[_]=1
    # 0000:00:02.0 "VGA compatible controller" "Vendor" "Device name" ...
    while read -r _ln_slot _ln_rest; do
      [[ "$_ln_rest" =~ ^\"[^\"]*\"\ \"[^\"]*\"\ \"([^\"]*)\" ]] || continue
      _ln_dev=${BASH_REMATCH[1]}
      # without a pci.ids entry lspci prints "Device 1111"
      [[ "$_ln_dev" == "Device "[0-9a-f][0-9a-f][0-9a-f][0-9a-f] ]] || LAB_LSPCI[$_ln_slot]=$_ln_dev
    done < <(lspci -D -mm)
  fi
  printf -v "$1" '%s' "${LAB_LSPCI[$2]:-}"
}

# check_device_matches_sysfs BDF: every fact gpumon reports about BDF (in the last
# gpumon_json output) against sysfs, read here independently
check_device_matches_sysfs() {
  local d=$1 j v w m vendor device
  jget j "$d" address
  check_eq "$d: listed by gpumon" "$j" "$d" || return 1
  attr_get vendor "$d" vendor; attr_get device "$d" device
  jget j "$d" vendor; check_eq "$d: vendor" "$j" "${vendor#0x}"
  jget j "$d" device; check_eq "$d: device" "$j" "${device#0x}"
  jget j "$d" class; attr_get v "$d" class; check_eq "$d: class" "$j" "$v"
  jget j "$d" name; lspci_name_get v "$d"
  if [ -n "$v" ]; then
    check_contains "$d: name contains the pci.ids device name" "$j" "$v"
  else
    check_match "$d: name is null or a string (pci.ids has no device name)" "$j" '^(null|[^<].*)$'
  fi
  jget j "$d" driver; link_get v "/sys/bus/pci/devices/$d/driver"; [ "$v" = none ] && v=null
  check_eq "$d: driver" "$j" "$v"
  jget j "$d" iommu_group; link_get v "/sys/bus/pci/devices/$d/iommu_group"; [ "$v" = none ] && v=null
  check_eq "$d: iommu_group" "$j" "$v"
  jget j "$d" reset_methods; attr_get v "$d" reset_method
  if [ "$v" = "<absent>" ]; then w=null; else w=; for m in $v; do w+="${w:+,}\"$m\""; done; w="[$w]"; fi
  check_eq "$d: reset_methods" "$j" "$w"
  jget j "$d" power_state; attr_get v "$d" power_state; [ "$v" = "<absent>" ] && v=null
  check_eq "$d: power_state" "$j" "$v"
  jget j "$d" boot_vga; attr_get v "$d" boot_vga; [ "$v" = 1 ] && v=true || v=false
  check_eq "$d: boot_vga" "$j" "$v"
  jget j "$d" driver_override
  if [ "$j" != "<no-field>" ]; then  # optional field
    attr_get v "$d" driver_override; [ "$v" = "(null)" ] && v=null
    check_eq "$d: driver_override" "$j" "$v"
  fi
  jget j "$d" group_viable; jget w "$d" selected
  if [ "$w" = true ]; then
    check_eq "$d: group_viable (selected device)" "$j" "$(sysfs_group_viable "$d")"
  elif [ "$j" != null ]; then
    check_eq "$d: group_viable (when reported)" "$j" "$(sysfs_group_viable "$d")"
  fi
}

# expected_state BDF SELECTED(true|false): the state gpumon must report, from sysfs
expected_state() {
  [ "$2" = true ] || { echo unselected; return; }
  pci_exists "$1" || { echo missing; return; }
  case $(pci_driver "$1") in vfio-pci) echo ok ;; none) echo unbound ;; *) echo host-driver ;; esac
}

# --- udev -------------------------------------------------------------------------

# lab_udevd_start: systemd-udevd in the chroot (it refuses without the variable).
lab_udevd_start() {
  mkdir -p /run/udev/rules.d
  SYSTEMD_IGNORE_CHROOT=1 /lib/systemd/systemd-udevd --daemon || return 1
  wait_until 10 udevadm control --ping
}

# lab_uevents_start FILE [udev|kernel]: record PCI uevents (with properties) to FILE
# in the background; returns once the monitor listens (it prints its header after
# binding its sockets). "kernel" (default) = raw kernel uevents, "udev" = as processed
# by udevd.
lab_uevents_start() {
  local src=${2:-kernel}
  SYSTEMD_IGNORE_CHROOT=1 udevadm monitor --"$src" --property --subsystem-match=pci >"$1" 2>&1 &
  LAB_UEVENT_PID=$!
  wait_until 20 grep -q -- ' - the ' "$1" || { not_ok "udevadm monitor started"; return 1; }
}

lab_uevents_stop() { [ -n "${LAB_UEVENT_PID:-}" ] && kill "$LAB_UEVENT_PID" 2>/dev/null; wait "$LAB_UEVENT_PID" 2>/dev/null; LAB_UEVENT_PID=; }
