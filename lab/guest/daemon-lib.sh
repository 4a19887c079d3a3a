# Helpers for the daemon and VM-lifecycle scenarios (lab/scenarios/7x-*, 8x-*) and the
# benchmarks (bench/lab/). Sourced by a scenario after lab/guest/lib.sh:
#
#   . "$LAB_REPO/lab/guest/daemon-lib.sh"
#
# Bash builtins wherever a helper runs in a loop (every exec costs 30-300 ms under TCG).

VGA=0000:00:02.0 GPU=0000:01:00.0 AUDIO=0000:01:00.1 NVME=0000:02:00.0 NIC=0000:03:00.0
GPU_BRIDGE=0000:00:03.0
LAB_SELECTED="$GPU $AUDIO"
GD_DIR=/run/lab-gpumon            # survives between the scenarios of one boot (tmpfs /run)
GD_LOG=$GD_DIR/daemon.log         # the current daemon's stderr (appended to by every start)
GD_ALERTS=$GD_DIR/alerts.log      # one line per alert, written by the [alerts] command
GD_PROM=$GD_DIR/metrics/gpumon.prom
GD_STATE=$GD_DIR/state
GD_LOGDIR=$GD_DIR/libvirt-qemu    # [libvirt] log_dirs
GD_SOCK=/run/gpumon/gpumon.sock
# [reset] for the lifecycle scenarios: a budget small enough to exhaust, stops spaced ~1 s
GD_RESET_TOML='[reset]
max_resets = 3
window = "10m"
min_interval = "500ms"
dedupe_window = "1s"'
mkdir -p "$GD_DIR/metrics" "$GD_STATE" "$GD_LOGDIR" /run/gpumon
# the daemon started by an earlier scenario of this boot, if it still runs
GD_PID=
[ -e "$GD_DIR/pid" ] && read -r GD_PID <"$GD_DIR/pid" && { kill -0 "$GD_PID" 2>/dev/null || GD_PID=; }

# The alert command: appends "KIND ADDRESS OLD NEW" to $GD_ALERTS (no shell involved in
# gpumon; this script is the program it runs).
if [ ! -x "$GD_DIR/alert-cmd" ]; then
  cat >"$GD_DIR/alert-cmd" <<EOF
#!/bin/bash
echo "\$GPUMON_ALERT_KIND \${GPUMON_ALERT_ADDRESS:--} \${GPUMON_ALERT_OLD_DRIVER:--} \${GPUMON_ALERT_NEW_DRIVER:--}" >>$GD_ALERTS
EOF
  chmod +x "$GD_DIR/alert-cmd"
fi

# gd_config [EXTRA-TOML]: the lab config plus the daemon's paths; EXTRA is appended
# (more [[gpu]] rules, [reset] ...). Sections written here: [daemon], [alerts],
# [libvirt]; EXTRA must not repeat them.
gd_config() {
  mkdir -p /etc/gpumon
  cat >/etc/gpumon/gpumon.toml <<EOF
[daemon]
socket = "$GD_SOCK"
state_dir = "$GD_STATE"
${GD_DAEMON_EXTRA:-}

[alerts]
command = "$GD_DIR/alert-cmd"
textfile = "$GD_PROM"

[libvirt]
log_dirs = ["$GD_LOGDIR"]

[[gpu]]
ids = ["1234:1111"]
companions = true
${GD_GPU_EXTRA:-}
${1:-}
EOF
}

# gd_start [DAEMON-ARGS...]: starts `gpumon daemon` in the background (stderr appended
# to $GD_LOG), waits until the control socket answers. Sets GD_PID. Returns 1 if the
# daemon died or never answered.
gd_start() {
  echo "# ---- gpumon daemon $* (started at $(</proc/uptime))" >>"$GD_LOG"
  local off i
  off=$(wc -c <"$GD_LOG")
  "$GPUMON_BIN" daemon --log-level "${GD_LOG_LEVEL:-info}" "$@" >>"$GD_LOG" 2>&1 &
  GD_PID=$!
  echo "$GD_PID" >"$GD_DIR/pid"
  for ((i = 0; i < 600; i++)); do
    tail -c +"$((off + 1))" "$GD_LOG" | grep -q '^NOTICE ready' && return 0
    kill -0 "$GD_PID" 2>/dev/null || { not_ok "gpumon daemon started" "it exited: $(tail -5 "$GD_LOG")"; return 1; }
    sleep 0.1
  done
  not_ok "gpumon daemon logs 'ready' within 60 s" "$(tail -20 "$GD_LOG")"
  return 1
}

# gd_stop: SIGTERM, and the exit status must be 0
gd_stop() {
  [ -n "${GD_PID:-}" ] || return 0
  kill -TERM "$GD_PID" 2>/dev/null
  wait "$GD_PID"
  local rc=$?
  # not our child (started by an earlier scenario of the group): wait for it by hand
  if [ $rc -eq 127 ]; then wait_until 20 eval '! kill -0 $GD_PID'; rc=0; note "daemon started by an earlier scenario; exit status not visible"; fi
  check_eq "daemon $GD_PID exits 0 on SIGTERM" "$rc" 0
  GD_PID=
  rm -f "$GD_DIR/pid"
}

# gd_alive: the daemon process still runs
gd_alive() { [ -n "${GD_PID:-}" ] && kill -0 "$GD_PID" 2>/dev/null; }

# gd_need_daemon [EXTRA-TOML]: the group's daemon. An earlier scenario of the boot may have
# started it; a scenario run alone (`lab/run NAME`) starts its own here, with the config
# the group's first scenario writes (gd_config EXTRA), and waits for both GPU functions
# on vfio-pci. Fatal when it cannot start.
gd_need_daemon() {
  gd_alive && return 0
  note "no daemon from an earlier scenario of this boot: starting one"
  gd_config "${1:-}"
  gd_start || fatal "the daemon starts" "$(tail -20 "$GD_LOG")"
  wait_until 20 gd_both_vfio || fatal "the daemon puts both GPU functions on vfio-pci" "$(tail -20 "$GD_LOG")"
}

# gd_log_count VAR PATTERN [FILE]: VAR = number of lines of the daemon log matching the
# extended regex PATTERN (bash loop: no exec)
gd_log_count() {
  local _lc_n=0 _lc_l
  while IFS= read -r _lc_l; do [[ "$_lc_l" =~ $2 ]] && _lc_n=$((_lc_n + 1)); done <"${3:-$GD_LOG}"
  printf -v "$1" '%s' "$_lc_n"
}

# gd_mark: remember the daemon log's current length; gd_since prints what came after
gd_mark() { GD_MARK=$(wc -c <"$GD_LOG"); }
gd_since() { tail -c +"$((${GD_MARK:-0} + 1))" "$GD_LOG"; }
gd_since_file() { gd_since >"$LAB_TMP/since.log"; echo "$LAB_TMP/since.log"; }

# gd_alerts_count VAR KIND: alerts of KIND recorded by the alert command
gd_alerts_count() {
  local _ac_n=0 _ac_k _ac_rest
  if [ -e "$GD_ALERTS" ]; then
    while read -r _ac_k _ac_rest; do [ "$_ac_k" = "$2" ] && _ac_n=$((_ac_n + 1)); done <"$GD_ALERTS"
  fi
  printf -v "$1" '%s' "$_ac_n"
}

# gd_driver_is BDF DRIVER: for wait_until
gd_driver_is() { local _d; link_get _d "/sys/bus/pci/devices/$1/driver"; [ "$_d" = "$2" ]; }

# gd_both_vfio: GPU and audio on vfio-pci
gd_both_vfio() { gd_driver_is $GPU vfio-pci && gd_driver_is $AUDIO vfio-pci; }

# gd_untouched: the boot VGA (same IDs as the GPU) and the NIC keep their drivers and no
# driver_override; the nvme too unless $GD_NVME_SELECTED
gd_untouched() {
  local d o
  link_get d /sys/bus/pci/devices/$VGA/driver; attr_get o $VGA driver_override
  check_eq "boot VGA $VGA untouched: driver, driver_override" "$d $o" "bochs-drm (null)"
  link_get d /sys/bus/pci/devices/$NIC/driver; attr_get o $NIC driver_override
  check_eq "NIC $NIC untouched: driver, driver_override" "$d $o" "e1000e (null)"
  if [ -z "${GD_NVME_SELECTED:-}" ]; then
    link_get d /sys/bus/pci/devices/$NVME/driver
    check_eq "nvme $NVME untouched" "$d" nvme
  fi
}

# gd_grab BDF DRIVER: what an operator (or a host driver module) does: unbind vfio-pci,
# clear driver_override, bind the host driver
gd_grab() {
  local dev=/sys/bus/pci/devices/$1
  [ -e "$dev/driver" ] && echo "$1" >"$dev/driver/unbind"
  echo >"$dev/driver_override"
  echo "$1" >"/sys/bus/pci/drivers/$2/bind"
}

# gd_now_ms VAR: milliseconds since boot, from /proc/uptime (no exec)
gd_now_ms() {
  local _nm_u _nm_rest
  read -r _nm_u _nm_rest </proc/uptime
  printf -v "$1" '%s' "$(( ${_nm_u%.*} * 1000 + 10#${_nm_u#*.}0 ))"
}

# gd_ns VAR: nanoseconds (EPOCHREALTIME, no exec)
gd_us() { local _t=${EPOCHREALTIME/./}; printf -v "$1" '%s' "$_t"; }

# gd_cpu_ticks VAR PID: utime+stime of PID in clock ticks (USER_HZ, 100/s)
gd_cpu_ticks() {
  local _ct_s
  read -r _ct_s <"/proc/$2/stat"
  _ct_s=${_ct_s##*) }          # fields from 3 on
  local -a _ct_f=($_ct_s)
  printf -v "$1" '%s' "$(( _ct_f[11] + _ct_f[12] ))"
}

# gd_rss_kib VAR PID
gd_rss_kib() {
  local _rk_k _rk_v _rk_u
  while read -r _rk_k _rk_v _rk_u; do
    [ "$_rk_k" = VmRSS: ] && { printf -v "$1" '%s' "$_rk_v"; return; }
  done <"/proc/$2/status"
  printf -v "$1" '%s' 0
}

# gd_group VAR: the GPU's IOMMU group (renumbered by a remove+rescan: read it fresh)
gd_group() { link_get "$1" /sys/bus/pci/devices/$GPU/iommu_group; }

# gd_vm_start: a "VM": a process holding /dev/vfio/<group> open. Sets GD_VM_PID.
gd_vm_start() {
  local g; gd_group g
  bash -c 'exec 7<>"/dev/vfio/$1" || exit 1; echo opened >"$2"; exec sleep infinity' vm "$g" "$LAB_TMP/vm.opened" &
  GD_VM_PID=$!
  wait_until 10 test -e "$LAB_TMP/vm.opened" || { not_ok "a VM process opens /dev/vfio/$g"; return 1; }
  rm -f "$LAB_TMP/vm.opened"
}

# gd_vm_kill: the VM exits (SIGKILL, as when QEMU is destroyed)
gd_vm_kill() { kill -KILL "$GD_VM_PID" 2>/dev/null; wait "$GD_VM_PID" 2>/dev/null; GD_VM_PID=; }

# gd_domain_start NAME ADDR...: libvirt's "starting up" header, as in the libvirt 9.0.0 fixtures
gd_domain_start() {
  local name=$1 a; shift
  {
    echo "2026-11-25 00:09:25.943+0000: starting up libvirt version: 9.0.0, package: 9.0.0-4+deb12u2 (Debian), qemu version: 7.2.0Debian 1:7.2+dfsg-7+deb12u16, kernel: 6.1.0-56-amd64, hostname: lab"
    echo "LC_ALL=C \\"
    echo "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\"
    echo "/usr/bin/qemu-system-x86_64 \\"
    echo "-name guest=$name,debug-threads=on \\"
    echo "-machine pc-q35-7.2,usb=off,dump-guest-core=off \\"
    for a in "$@"; do
      echo "-device '{\"driver\":\"vfio-pci\",\"host\":\"$a\",\"id\":\"hostdev${a##*.}\",\"bus\":\"pci.5\",\"addr\":\"0x${a##*.}\"}' \\"
    done
    echo "-msg timestamp=on"
    echo "char device redirected to /dev/pts/1 (label charserial0)"
  } >>"$GD_LOGDIR/$name.log"
}

gd_domain_stop() { echo "2026-11-25 00:09:31.614+0000: shutting down, reason=destroyed" >>"$GD_LOGDIR/$1.log"; }

# gd_domain_xml ADDR...: a libvirt domain XML (stdin of the hook) with these PCI hostdevs
gd_domain_xml() {
  local a b s f
  echo "<domain type='kvm' id='3'><name>lab-vm</name><devices>"
  for a in "$@"; do
    b=${a:5:2} s=${a:8:2} f=${a:11:1}
    echo "<hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/><source><address domain='0x0000' bus='0x$b' slot='0x$s' function='0x$f'/></source><alias name='hostdev$f'/><address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x$f'/></hostdev>"
  done
  echo "</devices></domain>"
}

# gd_hook_start DOMAIN: the hook's `prepare begin` for the XML in $LAB_TMP/hook.xml, with
# [libvirt] gate = "off": no gate question, only "a VM run began" (the daemon tells stops apart
# by VM run: a stop with no start since the last handled one is the same stop)
gd_hook_start() {
  printf '[daemon]\nsocket = "%s"\n[libvirt]\ngate = "off"\n[[gpu]]\nids = ["1234:1111"]\n' "$GD_SOCK" >"$GD_DIR/hook-start.toml"
  GPUMON_CONFIG=$GD_DIR/hook-start.toml GPUMON_BIN=$GPUMON_BIN "$LAB_REPO/hooks/qemu" "$1" prepare begin - <"$LAB_TMP/hook.xml"
}

# gd_hook_stop DOMAIN ADDR...: one VM run as the hook sees it: `prepare begin` (gd_hook_start),
# then libvirt's `stopped end` hook call, through hooks/qemu
gd_hook_stop() {
  local d=$1; shift
  gd_domain_xml "$@" >"$LAB_TMP/hook.xml"
  gd_hook_start "$d"
  GPUMON_BIN=$GPUMON_BIN "$LAB_REPO/hooks/qemu" "$d" stopped end - <"$LAB_TMP/hook.xml"
}

# gd_count_resets VAR: "reset ... succeeded" lines in the daemon log since gd_mark
gd_count_resets() { gd_since >"$LAB_TMP/since.log"; gd_log_count "$1" '^NOTICE reset [a-z-]+ succeeded' "$LAB_TMP/since.log"; }

# Uevent capture for "no host-driver bind during a reset": record raw kernel uevents
# (with properties) to FILE; gd_host_binds VAR FILE counts bind events of a GPU-slot
# function whose DRIVER is not vfio-pci.
gd_host_binds() {
  local _hb_n=0 _hb_l _hb_act= _hb_slot= _hb_drv=
  while IFS= read -r _hb_l; do
    case $_hb_l in
      ACTION=*) _hb_act=${_hb_l#ACTION=} ;;
      PCI_SLOT_NAME=*) _hb_slot=${_hb_l#PCI_SLOT_NAME=} ;;
      DRIVER=*) _hb_drv=${_hb_l#DRIVER=} ;;
      "")
        if [ "$_hb_act" = bind ] && [[ "$_hb_slot" == 0000:01:00.* ]] && [ "$_hb_drv" != vfio-pci ]; then
          _hb_n=$((_hb_n + 1)); echo "host-driver bind: $_hb_slot $_hb_drv"
        fi
        _hb_act= _hb_slot= _hb_drv= ;;
    esac
  done <"$2"
  printf -v "$1" '%s' "$_hb_n"
}

# gd_events VAR FILE ACTION: number of uevents with ACTION for a GPU-slot function
gd_events() {
  local _ev_n=0 _ev_l _ev_act= _ev_slot=
  while IFS= read -r _ev_l; do
    case $_ev_l in
      ACTION=*) _ev_act=${_ev_l#ACTION=} ;;
      PCI_SLOT_NAME=*) _ev_slot=${_ev_l#PCI_SLOT_NAME=} ;;
      "") [ "$_ev_act" = "$3" ] && [[ "$_ev_slot" == 0000:01:00.* ]] && _ev_n=$((_ev_n + 1)); _ev_act= _ev_slot= ;;
    esac
  done <"$2"
  printf -v "$1" '%s' "$_ev_n"
}

# gd_status_json: gpumon status --json through the daemon, loaded into JDEV (lib.sh)
gd_status_json() { gpumon_json status --json; }

# gd_prom_value VAR METRIC-WITH-LABELS: the value of one sample line of the textfile
gd_prom_value() {
  local _pv_l _pv_v=absent
  if [ -e "$GD_PROM" ]; then
    while IFS= read -r _pv_l; do
      [ "${_pv_l% *}" = "$2" ] && { _pv_v=${_pv_l##* }; break; }
    done <"$GD_PROM"
  fi
  [[ "$_pv_v" =~ ^([0-9]+)\.0$ ]] && _pv_v=${BASH_REMATCH[1]}   # "2.0" -> "2"
  printf -v "$1" '%s' "$_pv_v"
}
