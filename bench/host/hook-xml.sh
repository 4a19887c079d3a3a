#!/usr/bin/env bash
# The hook's domain-XML scan on 16 MiB adversarial documents (docs/benchmarks.md §5): one comment as large as the
# document, many open elements then as many unmatched end tags, hostdevs by the hundred thousand. Runs on the host
# (no kernel involved): `gpumon hook` with a socket that does not exist, so it scans, fails to connect, and exits.
# A line on stderr ("could not tell the daemon…") means the scan finished inside the hook's 800 ms hard deadline.
#   bench/host/hook-xml.sh [GPUMON_BIN...]     (default .build/release/gpumon)
set -euo pipefail
bins=("${@:-.build/release/gpumon}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]; size = 16 << 20
hd = ("<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' "
      "slot='0x00' function='0x0'/></source></hostdev>")
open(d + "/comment.xml", "w").write("<domain><!--" + "--x" * (size // 3) + "-->" + hd + "</domain>")
n = size // 16
open(d + "/unmatched.xml", "w").write("<domain>" + "<a>" * n + "</zz>" * n + hd + "</domain>")
open(d + "/hostdevs.xml", "w").write("<domain><devices>" + "".join(
    hd.replace("bus='0x01'", "bus='0x%x'" % (i % 256)) for i in range(size // len(hd))) + "</devices></domain>")
open(d + "/plain.xml", "w").write("x" * size)
PY
TIMEFORMAT='%U+%S s CPU, %R s wall'
for bin in "${bins[@]}"; do
  for f in plain comment unmatched hostdevs; do
    t=$( { time "$bin" hook --socket "$dir/none.sock" vm stopped end - <"$dir/$f.xml" >/dev/null 2>"$dir/err"; } 2>&1 )
    done_=no; grep -q "could not tell the daemon" "$dir/err" && done_=yes
    echo "BENCH hook-xml bin=$bin input=$f $t scan_finished=$done_"
  done
done
