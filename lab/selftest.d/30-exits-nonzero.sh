# lab-group: selftest
# lab-timeout: 30
# All checks pass but the script exits 3: must be reported FAIL.
ok "a passing check"
exit 3
