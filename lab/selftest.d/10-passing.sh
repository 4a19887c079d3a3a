# lab-group: selftest
# lab-timeout: 30
# A correct expectation: must be reported PASS.
check_eq "the NIC is on e1000e" "$(pci_driver 0000:03:00.0)" e1000e
