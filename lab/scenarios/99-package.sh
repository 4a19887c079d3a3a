# lab-group: package
# lab-needs: gpumon
# lab-timeout: 600
#
# The Debian package, installed for real with dpkg in the guest (its root is an overlay over the host's read-only
# root, so nothing reaches the host): `make deb deb-upgrade` builds gpumon_<v>_<arch>.deb and gpumon_<v>+up1_….deb
# into .build-pkg/deb/.
#
# 1. dpkg -i: files in place with /usr/bin substituted, the service enabled and NOT started, the udev rule and the
#    libvirt hook; the daemon started with the unit's own ExecStart line claims the GPU and its audio function.
# 2. dpkg -i of the newer build while a "VM" holds the GPU's /dev/vfio group: the postinst restarts the running
#    daemon (try-restart); the edited config and conffile are kept; state (reset budget and quarantine, log
#    positions) kept, the quarantine still in force; nothing unbound, nothing reset, the VM keeps the group.
# 3. dpkg -r stops the daemon and leaves devices where they are; dpkg -P leaves nothing behind.
#
# systemd is not PID 1 in the lab, so `systemctl` is a recording stand-in (in $LAB_TMP, first on PATH) that does
# what systemd would for these calls: start runs the installed unit's ExecStart= line (honouring its
# ConditionPathExists=), stop sends SIGTERM, try-restart restarts only a running daemon, is-enabled reads the
# [Install] symlink. /run/systemd/system is created so the maintainer scripts take their systemd branch.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
lab_need_gpumon

arch=$(dpkg --print-architecture)
version=$(sed -n '1s/^gpumon (\([^)]*\)).*/\1/p' "$LAB_REPO/debian/changelog")
DEB1=$LAB_REPO/.build-pkg/deb/gpumon_${version}_$arch.deb
DEB2=$LAB_REPO/.build-pkg/deb/gpumon_${version}+up1_$arch.deb
[ -f "$DEB1" ] && [ -f "$DEB2" ] || fatal "both packages built (make deb deb-upgrade)" "$DEB1 $DEB2"

# --- the guest's root is a throw-away overlay; the host has no gpumon package ------------------------------------
root_line=$(grep -m1 '^overlay / overlay ' /proc/self/mounts)
check_match "/ is an overlay over the host's root (installs stay in the guest's tmpfs)" "$root_line" 'lowerdir=/lower,upperdir=/upper/'
check_rc "no gpumon package installed before" 1 dpkg -s gpumon
[ -e /usr/bin/gpumon ] && fatal "/usr/bin/gpumon absent before the install"

# man-db's dpkg trigger (man pages were installed) rebuilds the index of every man page of the host: minutes under
# TCG over 9p. Its own switch turns it off, in this guest only.
rm -f /var/lib/man-db/auto-update

# daemon-lib.sh made /run/gpumon (empty) for the other scenarios; this one starts from a root without it.
rmdir /run/gpumon 2>/dev/null

# What exists before the install, to compare after the purge: the trees the maintainer scripts write to (a find
# over /usr and /var/lib through 9p under TCG takes minutes), and every path the package holds.
TREES="/etc /var/lib/systemd /run /usr/libexec /lib/systemd/system /lib/udev/rules.d"
snapshot() { find $TREES -xdev 2>/dev/null | grep -Ev '^/run/(lab-|systemd|udev)' | sort; }
snapshot >"$LAB_TMP/before.list"
dpkg-deb -c "$DEB1" | awk '{ p = substr($6, 2); sub(/\/$/, "", p); if (p != "") print p }' >"$LAB_TMP/deb.paths"
: >"$LAB_TMP/deb.new"
while read -r p; do [ -e "$p" ] || [ -L "$p" ] || echo "$p" >>"$LAB_TMP/deb.new"; done <"$LAB_TMP/deb.paths"
note "$(wc -l <"$LAB_TMP/deb.new") of the package's $(wc -l <"$LAB_TMP/deb.paths") paths are new on this root"

# This build machine is a Docker-derived image: its /usr/sbin/policy-rc.d forbids every service action (exit 101),
# and deb-systemd-invoke honours it, as it should in an image build. The guest stands for a compute node: hidden here.
if [ -e /usr/sbin/policy-rc.d ]; then mv /usr/sbin/policy-rc.d "$LAB_TMP/policy-rc.d.host"; note "policy-rc.d of the host image hidden in the guest"; fi

# --- the systemctl stand-in ------------------------------------------------------------------------------------
SC=$LAB_TMP/sc
mkdir -p "$SC" /run/systemd/system
cat >"$SC/systemctl" <<'EOF'
#!/bin/bash
# lab stand-in for systemctl (see 99-package.sh): records each call, acts like systemd for gpumon.service.
d=$(dirname "$0")
echo "$*" >>"$d/calls"
args=()
for a in "$@"; do case $a in --system|--quiet|-q|--no-block|--) ;; *) args+=("$a") ;; esac; done
verb=${args[0]:-} unit=${args[1]:-}
unitfile=/lib/systemd/system/gpumon.service
active() { [ -s "$d/pid" ] && kill -0 "$(<"$d/pid")" 2>/dev/null; }
start() {
  [ -e "$unitfile" ] || { echo "Unit $unit not found." >&2; return 5; }
  local cond; cond=$(sed -n 's/^ConditionPathExists=//p' "$unitfile")
  [ -z "$cond" ] || [ -e "$cond" ] || { echo "condition failed: $cond" >>"$d/calls"; return 0; }
  local exec; exec=$(sed -n 's/^ExecStart=//p' "$unitfile")
  echo "# ExecStart: $exec" >>"$d/daemon.log"
  local off; off=$(wc -c <"$d/daemon.log")
  setsid $exec </dev/null >>"$d/daemon.log" 2>&1 &
  echo $! >"$d/pid"
  for ((i = 0; i < 600; i++)); do
    tail -c +"$((off + 1))" "$d/daemon.log" | grep -q '^NOTICE ready' && return 0
    kill -0 "$(<"$d/pid")" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
stop() {
  active || return 0
  local pid; pid=$(<"$d/pid")
  kill -TERM "$pid"
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || { rm -f "$d/pid"; return 0; }; sleep 0.1; done
  kill -KILL "$pid"; rm -f "$d/pid"; return 1
}
case $verb in
  daemon-reload) ;;
  is-enabled) if [ -L "/etc/systemd/system/multi-user.target.wants/$unit" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  is-active) active ;;
  start) active || start ;;
  stop) stop ;;
  restart) stop; start ;;
  try-restart) if active; then stop && start; fi ;;
  # preset (deb-systemd-helper enables a new unit with `systemctl --root=/ preset`), enable, disable...: unit-file
  # operations that the real systemctl does without a running systemd
  *) exec /bin/systemctl "$@" ;;
esac
EOF
chmod +x "$SC/systemctl"
: >"$SC/daemon.log"
export PATH=$SC:$PATH
sc_calls() { [ -e "$SC/calls" ] && cat "$SC/calls"; }
sc_pid() { local p=; [ -s "$SC/pid" ] && read -r p <"$SC/pid"; echo "$p"; }

# --- 1. install -------------------------------------------------------------------------------------------------
check_eq "the GPU starts on its host driver" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "bochs-drm snd_hda_intel"
t0=$EPOCHREALTIME
check_cmd "dpkg -i $(basename "$DEB1")" dpkg -i "$DEB1"
note "dpkg -i took $(awk -v a=$t0 -v b=$EPOCHREALTIME 'BEGIN { printf "%.1f", b - a }') s"
check_eq "installed version" "$(dpkg-query -W -f='${Version} ${Status}' gpumon)" "$version install ok installed"
check_eq "gpumon --version runs" "$(/usr/bin/gpumon --version)" "$("$GPUMON_BIN" --version)"
check_cmd "the binary is stripped (no .symtab)" eval "! readelf -S /usr/bin/gpumon | grep -q '\.symtab'"
check_eq "unit: ExecStart with the installed path" "$(sed -n 's/^ExecStart=//p' /lib/systemd/system/gpumon.service)" \
  "/usr/bin/gpumon daemon --config /etc/gpumon/gpumon.toml"
check_cmd "udev rule: installed path" grep -qF 'IMPORT{program}="/usr/bin/gpumon udev-match %k"' /lib/udev/rules.d/60-gpumon.rules
check_eq "libvirt hook: qemu.d/50-gpumon -> the packaged script" "$(readlink /etc/libvirt/hooks/qemu.d/50-gpumon)" /usr/libexec/gpumon/qemu-hook
check_cmd "hook script: installed path" grep -qF 'bin=${GPUMON_BIN:-/usr/bin/gpumon}' /usr/libexec/gpumon/qemu-hook
check_cmd "hook script is executable" test -x /etc/libvirt/hooks/qemu.d/50-gpumon
check_contains "conffile: the example config" "$(dpkg-query -W -f='${Conffiles}' gpumon)" /etc/gpumon/gpumon.toml.example
check_cmd "no /etc/gpumon/gpumon.toml shipped (the operator's)" test ! -e /etc/gpumon/gpumon.toml
check_cmd "man page" test -s /usr/share/man/man1/gpumon.1.gz
check_cmd "bash completion" grep -q gpumon /usr/share/bash-completion/completions/gpumon
check_cmd "service enabled ([Install] symlink)" test -L /etc/systemd/system/multi-user.target.wants/gpumon.service
check_eq "service not started by the install" "$(sc_pid)" ""
check_cmd "postinst ran no start" eval "! sc_calls | grep -Eq '(^| )(start|restart|try-restart) '"
check_eq "GPU untouched by the install" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "bochs-drm snd_hda_intel"

# The operator's config (state in the default /var/lib/gpumon, the lab's alert command and log directory).
GD_STATE=/var/lib/gpumon
gd_config '[reset]
max_resets = 1
window = "10m"
min_interval = "500ms"
dedupe_window = "1s"'
echo "# edited by the operator" >>/etc/gpumon/gpumon.toml
echo "# edited example" >>/etc/gpumon/gpumon.toml.example
cp /etc/gpumon/gpumon.toml "$LAB_TMP/config.before"
check_cmd "gpumon check-config" /usr/bin/gpumon check-config

check_cmd "systemctl start gpumon (the unit's ExecStart)" systemctl start gpumon.service
pid1=$(sc_pid)
check_cmd "daemon runs" kill -0 "$pid1"
check_eq "its command line is the unit's" "$(tr '\0' ' ' </proc/$pid1/cmdline)" "/usr/bin/gpumon daemon --config /etc/gpumon/gpumon.toml "
check_cmd "it claims GPU and audio" wait_until 30 gd_both_vfio
gpumon_json status --json
check_eq "status answered by the installed daemon" "$(jdev $GPU state) $(jdev $AUDIO state)" "ok ok"

# One VM run as libvirt's hook sees it: the run's start (`prepare begin` with the gate off, gd_hook_start: the
# daemon tells stops apart by VM run, so a stop with no start since the last handled one is the same stop), then
# the `stopped end` call of the installed hook (qemu.d/50-gpumon -> /usr/bin/gpumon hook)
hook_stop() {
  gd_domain_xml $GPU $AUDIO >"$LAB_TMP/hook.xml"
  gd_hook_start "$1"
  /etc/libvirt/hooks/qemu.d/50-gpumon "$1" stopped end - <"$LAB_TMP/hook.xml"
}

# State to keep across the upgrade: a reset budget of 1, spent by one stop and exceeded by a second (the slot is
# quarantined), and a domain log followed (log positions).
GD_LOG=$SC/daemon.log
gd_domain_start lab-pkg-vm $GPU $AUDIO
gd_mark
hook_stop lab-pkg-vm
check_cmd "one reset after the hook stop" wait_until 60 eval 'gd_count_resets n; [ "$n" = 1 ]'
check_cmd "both back on vfio-pci after the reset" wait_until 30 gd_both_vfio
sleep 1.1   # past dedupe_window and min_interval
hook_stop lab-pkg-vm
check_cmd "the second stop exceeds the budget: quarantined" wait_until 30 eval 'gpumon_json status --json; [ "$(jdev $GPU state)" = quarantined ]'
gpumon_json status --json
q_note=$(jdev $GPU note)
note "quarantine: $q_note"
check_cmd "state: resets.json written" wait_until 10 test -s /var/lib/gpumon/resets.json
check_cmd "state: logpos.json written" wait_until 10 test -s /var/lib/gpumon/logpos.json
check_cmd "logpos.json follows the domain log" grep -q lab-pkg-vm.log /var/lib/gpumon/logpos.json
check_eq "resets.json: one reset, one quarantined slot" \
  "$(jq -c '[([.history[] | length] | add), (.quarantined | length)]' /var/lib/gpumon/resets.json)" "[1,1]"
cp /var/lib/gpumon/resets.json "$LAB_TMP/resets.before"
cp /var/lib/gpumon/logpos.json "$LAB_TMP/logpos.before"

# --- 2. upgrade while a VM holds the group --------------------------------------------------------------------
gd_vm_start || fatal "VM started"
: >"$SC/calls"
gd_mark
lab_uevents_start "$LAB_TMP/uevents"
check_cmd "dpkg -i $(basename "$DEB2") (upgrade)" dpkg -i "$DEB2"
check_eq "upgraded version" "$(dpkg-query -W -f='${Version}' gpumon)" "$version+up1"
check_contains "postinst reloaded systemd" "$(sc_calls)" "daemon-reload"
check_contains "postinst asked for a restart only if running" "$(sc_calls)" "try-restart gpumon.service"
check_cmd "no stop before the new files were in place (preinst)" eval "! sc_calls | head -n 1 | grep -q '^stop'"
pid2=$(sc_pid)
check_ne "a new daemon runs" "$pid2" "$pid1"
check_cmd "the new daemon runs" kill -0 "$pid2"
check_cmd "the old daemon is gone" eval "! kill -0 $pid1 2>/dev/null"
gpumon_json status --json
check_eq "the restarted daemon keeps the quarantine" "$(jdev $GPU state)" quarantined
check_eq "with the same reason" "$(jdev $GPU note)" "$q_note"
lab_uevents_stop
gd_events ev "$LAB_TMP/uevents" unbind; check_eq "no unbind uevent for the slot during the upgrade" "$ev" 0
gd_events ev "$LAB_TMP/uevents" bind; check_eq "no bind uevent for the slot during the upgrade" "$ev" 0
gd_events ev "$LAB_TMP/uevents" remove; check_eq "no remove uevent for the slot during the upgrade" "$ev" 0
f=$(gd_since_file)
check_cmd "no reset attempted by the restarted daemon" eval "! grep -Eq '^NOTICE (resetting|reset )' $f"
check_cmd "the VM still holds the group" kill -0 "$GD_VM_PID"
check_eq "both on vfio-pci" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
check_cmd "the operator's config kept byte for byte" cmp /etc/gpumon/gpumon.toml "$LAB_TMP/config.before"
check_contains "the edited conffile kept" "$(tail -n 1 /etc/gpumon/gpumon.toml.example)" "# edited example"
check_cmd "no .dpkg-new/.dpkg-dist left" eval "! ls /etc/gpumon | grep -q dpkg"
check_cmd "reset budget and quarantine kept (resets.json byte for byte)" cmp /var/lib/gpumon/resets.json "$LAB_TMP/resets.before"
check_eq "log positions kept (the same files, offsets not behind)" \
  "$(jq -n --slurpfile a "$LAB_TMP/logpos.before" --slurpfile b /var/lib/gpumon/logpos.json '($a[0].files | length) > 0 and ([$a[0].files | to_entries[] | .key as $k | .value as $v | ($b[0].files[$k] // null) as $w | $w != null and $w.inode == $v.inode and $w.offset >= $v.offset] | all)')" true
# The quarantine in force after the upgrade: a stop is refused, `gpumon clear` lifts it, the next stop resets.
gd_vm_kill
sleep 1.1
gd_mark
hook_stop lab-pkg-vm
check_cmd "a stop after the upgrade is refused (still quarantined)" wait_until 30 eval 'gd_since | grep -q "^WARNING not resetting 0000:01:00.0: quarantined"'
gd_count_resets n; check_eq "no reset" "$n" 0
check_rc "gpumon clear lifts it" 0 "$GPUMON_BIN" clear $GPU
sleep 1.1
gd_mark
hook_stop lab-pkg-vm
check_cmd "then a stop resets" wait_until 60 eval 'gd_count_resets n; [ "$n" = 1 ]'
check_cmd "both back on vfio-pci" wait_until 30 gd_both_vfio

# --- 3. remove, purge -----------------------------------------------------------------------------------------
: >"$SC/calls"
check_cmd "dpkg -r gpumon" dpkg -r gpumon
check_contains "prerm stopped the service" "$(sc_calls)" "stop gpumon.service"
check_cmd "daemon gone" eval "! kill -0 $pid2 2>/dev/null"
check_eq "remove leaves the devices where they are" "$(pci_driver $GPU) $(pci_driver $AUDIO)" "vfio-pci vfio-pci"
check_cmd "remove: binary gone" test ! -e /usr/bin/gpumon
check_cmd "remove: hook link gone" test ! -e /etc/libvirt/hooks/qemu.d/50-gpumon
check_cmd "remove keeps the config and state" test -e /etc/gpumon/gpumon.toml -a -e /etc/gpumon/gpumon.toml.example -a -d /var/lib/gpumon
check_cmd "dpkg -P gpumon" dpkg -P gpumon
check_rc "package gone from dpkg" 1 dpkg -s gpumon
for p in /etc/gpumon /var/lib/gpumon /run/gpumon /usr/libexec/gpumon /etc/systemd/system/multi-user.target.wants/gpumon.service; do
  check_cmd "purge: $p gone" test ! -e "$p" -a ! -L "$p"
done
snapshot >"$LAB_TMP/after.list"
check_eq "purge: nothing left behind (paths added under $TREES)" "$(comm -13 "$LAB_TMP/before.list" "$LAB_TMP/after.list")" ""
check_eq "purge: nothing of the host's removed" "$(comm -23 "$LAB_TMP/before.list" "$LAB_TMP/after.list")" ""
left=
while read -r p; do [ -e "$p" ] || [ -L "$p" ] && left+="$p "; done <"$LAB_TMP/deb.new"
check_eq "purge: every path the package added is gone" "$left" ""
gd_untouched
