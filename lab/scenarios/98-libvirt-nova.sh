# lab-group: libvirt
# lab-needs: gpumon
# lab-timeout: 300
#
# The domain XML as Nova writes it (instance-0000xxxx, nova metadata, <driver name='vfio'/>,
# managed='no' as with [pci] device_spec "managed": "no"): one reset per stop, every signal
# naming the instance.
. "$LAB_REPO/lab/guest/daemon-lib.sh"
. "$LAB_REPO/lab/guest/libvirt-lib.sh"
lab_need_gpumon
lv_setup || fatal "libvirtd runs"
gd_alive || { lv_gd_restart || fatal "daemon runs"; }
LV_NOVA=1 lv_define instance-0000002a no
check_cmd "the XML has <driver name='vfio'/>" grep -q "<driver name='vfio'/>" "$LV_RUN/instance-0000002a.xml"
lv_run_once instance-0000002a
lv_sources_seen instance-0000002a
gd_untouched
