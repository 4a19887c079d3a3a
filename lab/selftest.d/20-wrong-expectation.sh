# lab-group: selftest
# lab-timeout: 30
# A deliberately wrong expectation: must be reported FAIL, with expected and actual,
# and with the kernel messages logged during the scenario.
echo "lab-selftest: a kernel message during the scenario" >/dev/kmsg
check_eq "the NIC is on e1000e" "$(pci_driver 0000:03:00.0)" e1000e
check_eq "the NIC is on vfio-pci (deliberately wrong)" "$(pci_driver 0000:03:00.0)" vfio-pci
check_eq "a check after the failed one still runs" 1 1
