# lab-group: selftest-crash
# lab-timeout: 30
# Crashes the guest kernel: no result comes back; must be reported FAIL with the
# tail of the guest console.
ok "about to crash the guest kernel"
echo c >/proc/sysrq-trigger
sleep 30
