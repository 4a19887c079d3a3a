# Helpers for the scenarios that run the real libvirt 9.0.0 and QEMU 7.2 inside the lab guest
# (lab/scenarios/9x-*). Sourced after lab/guest/lib.sh and lab/guest/daemon-lib.sh:
#
#   . "$LAB_REPO/lab/guest/daemon-lib.sh"; . "$LAB_REPO/lab/guest/libvirt-lib.sh"
#
# libvirt runs from the host's packages (lab/setup-deps installs them) in the guest's chroot,
# whose writes go to the tmpfs overlay: nothing on the host changes. qemu.conf is written so
# that libvirtd needs neither systemd, cgroups, mount namespaces, nor a security driver:
# the guest has none of them. Each helper works when called alone (a scenario can run on its
# own, `lab/run NAME`) and is idempotent within one boot (several scenarios share it).

LV_RUN=/run/lab-libvirt              # per-boot state (tmpfs /run)
LV_QEMU_LOGDIR=/var/log/libvirt/qemu # libvirt's own domain logs (gpumon's log_dirs default)
LV_HOOK=/etc/libvirt/hooks/qemu
mkdir -p "$LV_RUN"

# lv_configure: qemu.conf for a root, namespace-less, cgroup-less QEMU
lv_configure() {
  mkdir -p /etc/libvirt
  cat >/etc/libvirt/qemu.conf <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
EOF
  # no default network, no storage autostart: nothing but the QEMU driver is needed
  rm -f /etc/libvirt/qemu/networks/autostart/*.xml 2>/dev/null
}

# lv_hook_install: /etc/libvirt/hooks/qemu, which records each call in $LV_RUN/hook-calls and
# then runs gpumon's hooks/qemu (with the lab's binary) unless $LV_RUN/hook-off exists.
# libvirtd looks for the hook when it starts: install it before lv_start (lv_setup does).
lv_hook_install() {
  mkdir -p /etc/libvirt/hooks
  cat >"$LV_HOOK" <<EOF
#!/bin/sh
echo "\$(cut -d' ' -f1 /proc/uptime) \$*" >>$LV_RUN/hook-calls
if [ -e $LV_RUN/hook-off ]; then cat >/dev/null; exit 0; fi
GPUMON_BIN=$GPUMON_BIN exec $LAB_REPO/hooks/qemu "\$@"
EOF
  chmod +x "$LV_HOOK"
}

# lv_hook_gpumon on|off: whether the installed hook calls gpumon
lv_hook_gpumon() { if [ "$1" = on ]; then rm -f "$LV_RUN/hook-off"; else : >"$LV_RUN/hook-off"; fi; }

# lv_setup: vfio-pci loaded, the hook installed (calling gpumon), libvirtd running
lv_setup() {
  modprobe vfio-pci
  grep -qs hook-off "$LV_HOOK" || lv_hook_install
  lv_hook_gpumon on
  lv_start
}

# lv_running: libvirtd answers
lv_running() { virsh -c qemu:///system version >/dev/null 2>&1; }

# lv_start: virtlogd and libvirtd as daemons (no systemd in the guest), waits until virsh
# answers. Returns 1 with a failed check when libvirtd does not come up within 60 s.
lv_start() {
  lv_configure
  pgrep -x virtlogd >/dev/null || virtlogd -d
  if ! pgrep -x libvirtd >/dev/null; then
    libvirtd -d --pid-file "$LV_RUN/libvirtd.pid" 2>>"$LV_RUN/libvirtd.err"
  fi
  wait_until 60 lv_running || { not_ok "libvirtd answers within 60 s" "$(tail -5 "$LV_RUN/libvirtd.err" 2>/dev/null)"; return 1; }
}

# lv_stop_libvirtd: SIGTERM to libvirtd only (running domains keep running, as with
# `systemctl restart libvirtd`)
lv_stop_libvirtd() {
  local p
  p=$(pgrep -x libvirtd) || return 0
  kill -TERM $p
  wait_until 30 eval '! pgrep -x libvirtd >/dev/null'
}

# lv_domain_xml NAME MANAGED [ADDR...]: a TCG domain, 64 MiB, no disk, no graphics, no
# balloon, with a PCI <hostdev> per ADDR (default: the GPU and its audio function).
# LV_NOVA=1 shapes it as Nova writes it (uuid, metadata, <driver name='vfio'/>).
lv_domain_xml() {
  local name=$1 managed=$2 a b s f
  shift 2
  [ $# -gt 0 ] || set -- $GPU $AUDIO
  echo "<domain type='qemu'>"
  echo "  <name>$name</name>"
  if [ -n "${LV_NOVA:-}" ]; then
    echo "  <metadata><nova:instance xmlns:nova='http://openstack.org/xmlns/libvirt/nova/1.1'><nova:name>gpu-vm</nova:name><nova:flavor name='g1.gpu'/></nova:instance></metadata>"
  fi
  echo "  <memory unit='MiB'>64</memory><vcpu>1</vcpu>"
  echo "  <os><type arch='x86_64' machine='q35'>hvm</type></os>"
  echo "  <devices>"
  echo "    <emulator>/usr/bin/qemu-system-x86_64</emulator>"
  for a in "$@"; do
    b=${a:5:2} s=${a:8:2} f=${a:11:1}
    echo "    <hostdev mode='subsystem' type='pci' managed='$managed'>"
    [ -n "${LV_NOVA:-}" ] && echo "      <driver name='vfio'/>"
    echo "      <source><address domain='0x0000' bus='0x$b' slot='0x$s' function='0x$f'/></source>"
    echo "    </hostdev>"
  done
  echo "    <memballoon model='none'/>"
  echo "  </devices>"
  echo "</domain>"
}

# lv_define NAME MANAGED [ADDR...]: defines (persistent) the domain
lv_define() {
  lv_domain_xml "$@" >"$LV_RUN/$1.xml"
  virsh -q define "$LV_RUN/$1.xml" >/dev/null
}

# lv_vm_start NAME: `virsh start`; LV_START_ERR holds its stderr, LV_START_MS its duration
lv_vm_start() {
  local t0 t1 rc
  t0=${EPOCHREALTIME/./}
  virsh -q start "$1" >/dev/null 2>"$LV_RUN/start.err"; rc=$?
  t1=${EPOCHREALTIME/./}
  LV_START_MS=$(( (t1 - t0) / 1000 ))
  LV_START_ERR=$(<"$LV_RUN/start.err")
  return $rc
}

# lv_vm_destroy NAME: `virsh destroy`, LV_DESTROY_MS its duration
lv_vm_destroy() {
  local t0 t1 rc
  t0=${EPOCHREALTIME/./}
  virsh -q destroy "$1" >/dev/null 2>"$LV_RUN/destroy.err"; rc=$?
  t1=${EPOCHREALTIME/./}
  LV_DESTROY_MS=$(( (t1 - t0) / 1000 ))
  return $rc
}

# lv_qemu_pid NAME: the QEMU PID libvirt recorded, or nothing
lv_qemu_pid() { local p=; [ -e "/run/libvirt/qemu/$1.pid" ] && read -r p <"/run/libvirt/qemu/$1.pid"; echo "$p"; }

# lv_vfio_fds PID: how many /dev/vfio descriptors PID holds
lv_vfio_fds() {
  local n=0 l
  for l in /proc/"$1"/fd/*; do [[ "$(readlink "$l" 2>/dev/null)" == /dev/vfio/* ]] && n=$((n + 1)); done
  echo "$n"
}

# lv_gd_config [EXTRA-TOML]: the daemon's lab config, with libvirt's own log directory
# watched (instead of the fake one the 8x scenarios write to). $LV_LOGDIRS overrides it.
lv_gd_config() {
  GD_LOGDIR=${LV_LOGDIRS:-$LV_QEMU_LOGDIR} gd_config "$@"
}

# The [reset] of the libvirt scenarios: a budget large enough for the whole group.
LV_RESET_TOML='[reset]
max_resets = 50
window = "10m"
min_interval = "0s"'

# lv_gd_restart [EXTRA-TOML]: (re)starts the daemon with lv_gd_config; returns 1 if it does not
# come up. A restart between scenarios gives each one the config it needs.
lv_gd_restart() {
  if gd_alive; then gd_stop; fi
  lv_gd_config "${1:-$LV_RESET_TOML}"
  gd_start
}

# lv_wait_reset [SECONDS]: waits for a reset result in the daemon log since gd_mark
lv_wait_reset() {
  wait_until "${1:-60}" eval 'gd_since | grep -q "^NOTICE reset [a-z-]* succeeded\|reset-failed\|^WARNING reset"'
}

# lv_run_once NAME: start, destroy, wait for the reset; then exactly one reset, both on
# vfio-pci. Checks as it goes.
lv_run_once() {
  local name=$1 n
  gd_mark
  lv_vm_start "$name"; check_eq "virsh start $name" "$?" 0 || { echo "$LV_START_ERR"; tail -20 "$LV_QEMU_LOGDIR/$name.log"; return 1; }
  note "virsh start took $LV_START_MS ms"
  lv_vm_destroy "$name"; check_eq "virsh destroy $name" "$?" 0
  note "virsh destroy took $LV_DESTROY_MS ms"
  check_cmd "a reset after $name stopped" lv_wait_reset 60
  sleep 2   # the other signals of this stop arrive now; a second reset would show
  gd_count_resets n; check_eq "exactly one reset for the stop of $name" "$n" 1 || gd_since
  check_cmd "both on vfio-pci" wait_until 10 gd_both_vfio
}

# lv_sources_seen NAME: the daemon log since gd_mark shows the stop of NAME from each source
# (log, hook, process): one "VM released the slot", the others "same stop"
lv_sources_seen() {
  local f src
  f=$(gd_since_file)
  for src in log hook process; do
    check_cmd "the $src signal of $1's stop was seen, naming the domain" \
      grep -Eq "(VM released the slot|same stop, already handled).*(domain=$1.*source=$src|source=$src.*domain=$1)" "$f"
  done
}

# lv_registration_trick: vfio-pci registered before bochs-drm and snd_hda_intel (rmmod +
# modprobe them, the boot VGA rebound), so a remove-rescan ends on vfio-pci (see 86-kill9-reset)
lv_registration_trick() {
  local m bochs_mod=none
  for m in bochs bochs_drm; do [ -d /sys/module/$m ] && bochs_mod=$m; done
  echo $VGA >/sys/bus/pci/drivers/bochs-drm/unbind
  rmmod $bochs_mod && modprobe $bochs_mod || return 1
  rmmod snd_hda_intel && modprobe snd_hda_intel || return 1
  [ "$(pci_driver $VGA)" = bochs-drm ]
}
