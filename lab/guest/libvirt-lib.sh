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

# lv_hook_install: gpumon's hook (hooks/qemu, through the binary the lab runs) as
# /etc/libvirt/hooks/qemu; read by libvirtd at start, so call it before lv_start.
lv_hook_install() {
  mkdir -p /etc/libvirt/hooks
  cat >"$LV_HOOK" <<EOF
#!/bin/sh
echo "\$(cut -d' ' -f1 /proc/uptime) \$*" >>$LV_RUN/hook-calls
GPUMON_BIN=$GPUMON_BIN exec $LAB_REPO/hooks/qemu "\$@"
EOF
  chmod +x "$LV_HOOK"
}

lv_hook_remove() { rm -f "$LV_HOOK"; }

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
# watched (instead of the fake one the 8x scenarios write to)
lv_gd_config() {
  GD_LOGDIR=$LV_QEMU_LOGDIR gd_config "$@"
}
