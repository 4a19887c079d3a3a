#!/usr/bin/env bash
# Regenerates the module index fixture (libkmod reads the .bin files depmod writes): a loadable `nvidia` whose
# alias matches every NVIDIA display device, and a built-in `xhci_pci` (USB 3 controllers: a Turing card's
# USB-C function). The .ko is an object file with only a .modinfo section; it is not kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$work/lib/modules/6.1.0-fixture
mkdir -p "$dir/kernel/drivers/gpu"
gcc -c "$here/nvidia-modinfo.c" -o "$dir/kernel/drivers/gpu/nvidia.ko"
printf 'xhci_pci.alias=pci:v*d*sv*sd*bc0Csc03i30*\0xhci_pci.license=GPL\0' > "$dir/modules.builtin.modinfo"
echo "kernel/drivers/usb/host/xhci-pci.ko" > "$dir/modules.builtin"
echo "kernel/drivers/gpu/nvidia.ko" > "$dir/modules.order"
depmod -b "$work" 6.1.0-fixture
for f in modules.alias modules.alias.bin modules.builtin modules.builtin.bin modules.builtin.alias.bin \
  modules.builtin.modinfo modules.dep modules.dep.bin modules.order; do
  cp "$dir/$f" "$here/lib/modules/6.1.0-fixture/$f"
done
