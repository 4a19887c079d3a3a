# lab-group: selftest
# lab-timeout: 5
# Never finishes: must be killed by the guest runner's timeout and reported FAIL.
ok "started"
sleep 1000
