# lab-group: selftest
# lab-timeout: 30
# Makes no check at all: must be reported FAIL (an empty scenario proves nothing).
true
