# Host side of the kernel lab: kernel download and cache, initramfs, QEMU command.
# Sourced by lab/run. Expects LAB_DIR, REPO and BUILD to be set.

log() { echo "lab: $*" >&2; }
die() { echo "lab: error: $*" >&2; exit 2; }

# --- kernel ------------------------------------------------------------------------

# The kernel series the lab boots: 6.1 (Debian 12's own kernel, the default) or 6.12 (Debian 12's backport of the
# kernel of Debian 13 and RHEL 10). Set by lab/run --kernel.
LAB_KERNEL=${LAB_KERNEL:-6.1}

# kernel_meta: the meta package naming the current image of the series.
kernel_meta() {
  case "$LAB_KERNEL" in
    6.1) echo linux-image-amd64 ;;
    6.12) echo linux-image-6.12-amd64 ;;
    *) die "unknown kernel series '$LAB_KERNEL' (expected 6.1 or 6.12)" ;;
  esac
}

# kernel_glob: the file names of cached images of the series.
kernel_glob() {
  case "$LAB_KERNEL" in
    6.1) echo 'linux-image-6.1.*-amd64_*.deb' ;;
    6.12) echo 'linux-image-6.12.*+deb12-amd64_*.deb' ;;
  esac
}

# Which image does the series' meta package depend on (linux-image-6.1.0-N-amd64, linux-image-6.12.N+deb12-amd64)?
# Prints the package name; empty if apt knows no lists yet.
kernel_pkg_from_apt() {
  local meta re
  meta=$(kernel_meta)
  case "$LAB_KERNEL" in
    6.1) re='^linux-image-6\.1\.[0-9]+-[0-9]+-amd64$|^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
    6.12) re='^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
  esac
  apt-cache depends "$meta" 2>/dev/null | awk -v re="$re" '$1 == "Depends:" && $2 ~ re { print $2; exit }'
}

# lab_kernel: make sure the kernel is downloaded (cached in $BUILD/cache) and unpacked
# with modules.dep (in $BUILD/kernel/<pkg>_<version>). Sets KERNEL_DIR, KVER,
# KERNEL_PKG, KERNEL_VERSION, VMLINUZ, MODDIR.
lab_kernel() {
  local cache=$BUILD/cache pkg deb glob
  mkdir -p "$cache"
  kernel_meta >/dev/null
  glob=$(kernel_glob)
  pkg=${LAB_KERNEL_PKG:-$(kernel_pkg_from_apt)}
  if [[ -z "$pkg" ]]; then
    # No apt lists (fresh machine) or an unexpected meta package: prefer a cached image.
    # shellcheck disable=SC2086
    deb=$(cd "$cache" && ls -t $glob 2>/dev/null | head -n 1 || true)
    [[ -z "$deb" ]] || deb=$cache/$deb
    if [[ -z "$deb" ]]; then
      log "apt does not know $(kernel_meta); running apt-get update"
      apt-get update -q >&2 </dev/null || die "apt-get update failed"
      pkg=$(kernel_pkg_from_apt)
      [[ -n "$pkg" ]] || die "cannot resolve the $LAB_KERNEL kernel package from $(kernel_meta)"
    fi
  fi
  if [[ -z "${deb:-}" ]]; then
    deb=$(ls -t "$cache/${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
  fi
  if [[ -z "$deb" ]]; then
    log "downloading $pkg (apt-get download)"
    if ! (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2 </dev/null); then
      log "download failed; running apt-get update and retrying"
      apt-get update -q >&2 </dev/null || die "apt-get update failed"
      # the lists may have been old: the meta package may now name a newer image
      pkg=${LAB_KERNEL_PKG:-$(kernel_pkg_from_apt)}
      [[ -n "$pkg" ]] || die "cannot resolve the $LAB_KERNEL kernel package from $(kernel_meta)"
      (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2 </dev/null) || die "apt-get download $pkg failed"
    fi
    deb=$(ls -t "$cache/${pkg}"_*.deb | head -n 1)
  fi
  KERNEL_PKG=$(dpkg-deb -f "$deb" Package)
  KERNEL_VERSION=$(dpkg-deb -f "$deb" Version)
  KVER=${KERNEL_PKG#linux-image-}
  KERNEL_DIR=$BUILD/kernel/${KERNEL_PKG}_${KERNEL_VERSION}
  if [[ ! -e "$KERNEL_DIR/.done" ]]; then
    log "unpacking $KERNEL_PKG $KERNEL_VERSION"
    rm -rf "$KERNEL_DIR"
    mkdir -p "$KERNEL_DIR"
    dpkg -x "$deb" "$KERNEL_DIR"
    depmod -b "$KERNEL_DIR" "$KVER"
    touch "$KERNEL_DIR/.done"
  fi
  VMLINUZ=$KERNEL_DIR/boot/vmlinuz-$KVER
  MODDIR=$KERNEL_DIR/lib/modules/$KVER
  [[ -r "$VMLINUZ" && -e "$MODDIR/modules.dep" ]] || die "kernel unpack in $KERNEL_DIR is incomplete"
}

# --- initramfs ---------------------------------------------------------------------

# Modules stage 1 needs; their modules.dep closure goes into the initramfs.
LAB_INITRD_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

# modules_closure MOD...: relative .ko paths, dependencies first, each once
modules_closure() {
  awk -v want="$*" '
    BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) wanted[w[i]] = 1 }
    {
      path = $1; sub(/:$/, "", path)
      name = path; sub(/.*\//, "", name); sub(/\.ko(\.[a-z]+)?$/, "", name); gsub(/-/, "_", name)
      deps[name] = ""
      for (i = NF; i >= 2; i--) deps[name] = deps[name] " " $i   # modprobe loads the last dep first
      file[name] = path
      byfile[path] = name
      order[++count] = name
    }
    function add(name,   d, m, k, j) {
      if (name in done) return
      m = split(deps[name], d, " ")
      for (k = 1; k <= m; k++) { j = byfile[d[k]]; if (!(j in done)) { done[j] = 1; print d[k] } }
      done[name] = 1; print file[name]
    }
    END {
      while ((getline line < builtin) > 0) {
        b = line; sub(/.*\//, "", b); sub(/\.ko$/, "", b); gsub(/-/, "_", b); isbuiltin[b] = 1
      }
      for (name in wanted) {
        key = name; gsub(/-/, "_", key)
        if (key in isbuiltin) continue   # built into the kernel (6.12: virtio_pci)
        if (!(key in file)) { print "missing module " name > "/dev/stderr"; exit 1 }
      }
      for (i = 1; i <= count; i++) if (order[i] in wanted) add(order[i])
    }
  ' builtin="$MODDIR/modules.builtin" "$MODDIR/modules.dep"
}

# lab_initramfs: build $BUILD/initramfs-<kver>.cpio (uncompressed: the kernel takes it
# as is, and it is small). Rebuilt when its inputs change. Sets INITRD.
lab_initramfs() {
  local root=$BUILD/initramfs/$KVER stamp sum mods m
  INITRD=$BUILD/initramfs-$KVER.cpio
  mods=$(modules_closure "${LAB_INITRD_MODULES[@]}") || die "module closure failed"
  sum=$( { cat "$LAB_DIR/guest/init"; echo "$mods"; sha256sum /bin/busybox; echo "$KERNEL_VERSION"; } | sha256sum | cut -c1-16)
  stamp=$BUILD/initramfs-$KVER.sum
  if [[ -e "$INITRD" && "$(cat "$stamp" 2>/dev/null)" == "$sum" ]]; then return 0; fi
  log "building initramfs for $KVER"
  rm -rf "$root"
  mkdir -p "$root"/{bin,etc,proc,sys,dev,tmp} "$root/lib/modules/$KVER"
  cp /bin/busybox "$root/bin/busybox"
  install -m 0755 "$LAB_DIR/guest/init" "$root/init"
  # busybox insmod loads plain .ko files: 6.12's .ko.xz are decompressed here.
  local plain=()
  for m in $mods; do
    mkdir -p "$root/lib/modules/$KVER/$(dirname "$m")"
    case "$m" in
      *.ko.xz) xz -dc "$MODDIR/$m" >"$root/lib/modules/$KVER/${m%.xz}"; plain+=("${m%.xz}") ;;
      *.ko.zst) zstd -qdc "$MODDIR/$m" >"$root/lib/modules/$KVER/${m%.zst}"; plain+=("${m%.zst}") ;;
      *) cp "$MODDIR/$m" "$root/lib/modules/$KVER/$m"; plain+=("$m") ;;
    esac
  done
  printf '%s\n' "${plain[@]}" >"$root/etc/lab-modules"
  (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  echo "$sum" >"$stamp"
}

# --- QEMU --------------------------------------------------------------------------

# qemu_args OUTDIR MODE: the machine, modelling a GPU host (see docs/testing.md):
#   00:02.0  VGA (1234:1111), boot VGA, bochs-drm    -- the host console
#   01:00.0  bochs-display (1234:1111, class 0380)   -- "the GPU"; no FLR, no PM
#   01:00.1  ich9-intel-hda (8086:293e)              -- its audio function
#   02:00.0  nvme (1b36:0010)                        -- FLR-capable device
#   03:00.0  e1000e (8086:10d3)                      -- unrelated, never touched
# plus an intel-iommu (real IOMMU groups) and two virtio-9p shares: the host root
# (read-only, tag "host") and OUTDIR (writable, tag "labout").
qemu_args() {
  local out=$1 mode=$2 cmdline
  # no_timer_check: under TCG on a loaded host the IO-APIC timer check can miss its ticks, and with interrupt
  # remapping on that is a panic ("timer doesn't work through Interrupt-remapped IO-APIC"; 6.12 on the first
  # boot here). The check only guards broken real hardware.
  cmdline="console=ttyS0 intel_iommu=on iommu=pt panic=-1 loglevel=${LAB_LOGLEVEL:-4} mitigations=off no_timer_check"
  cmdline+=" lab.repo=$REPO lab.moddir=$MODDIR lab.gpumondir=$(dirname "$GPUMON_BIN") lab.mode=$mode"
  cmdline+=" ${LAB_CMDLINE_EXTRA:-}"
  case "$REPO$MODDIR$GPUMON_BIN" in *" "*) die "the lab needs paths without spaces (repo, kernel, GPUMON_BIN)" ;; esac
  QEMU_ARGS=(
    -nodefaults -no-user-config -no-reboot
    -machine q35,accel=tcg -cpu max -smp "${LAB_SMP:-2}" -m "${LAB_MEM:-2048}"
    -device intel-iommu,intremap=on,caching-mode=on
    -vga none -display none
    -kernel "$VMLINUZ" -initrd "$INITRD" -append "$cmdline"
    -device VGA,bus=pcie.0,addr=0x2
    -device pcie-root-port,id=rp1,bus=pcie.0,addr=0x3,chassis=1,slot=1
    -device bochs-display,bus=rp1,addr=0x0.0,multifunction=on
    -device ich9-intel-hda,bus=rp1,addr=0x0.1
    -device pcie-root-port,id=rp2,bus=pcie.0,addr=0x4,chassis=2,slot=2
    -blockdev driver=null-co,node-name=nvme0,read-zeroes=on,size=67108864
    -device nvme,bus=rp2,drive=nvme0,serial=gpumonlab
    -device pcie-root-port,id=rp3,bus=pcie.0,addr=0x5,chassis=3,slot=3
    -device e1000e,bus=rp3
    -fsdev local,id=hostfs,path=/,security_model=none,readonly=on,multidevs=remap
    -device virtio-9p-pci,fsdev=hostfs,mount_tag=host,bus=pcie.0,addr=0x8
    -fsdev local,id=labout,path="$out",security_model=none
    -device virtio-9p-pci,fsdev=labout,mount_tag=labout,bus=pcie.0,addr=0x9
  )
}
