#ifndef GPUMON_CVFIO_H
#define GPUMON_CVFIO_H
#include <stddef.h>

/*
 * A bus reset of every function behind one bridge, done the way QEMU does it: through the VFIO groups of the
 * devices (VFIO_DEVICE_PCI_HOT_RESET). The caller must ensure no process holds the groups open.
 *
 * group: the IOMMU group of `device` (/dev/vfio/<group>); device: one function ("0000:01:00.0");
 * allowed/nallowed: every group the reset may touch (the slot's functions can sit in more than one group, e.g.
 * after a rescan). A reset that would touch a device of any other group is refused.
 * Returns 0, or -errno with a one-line description of the failed step in errbuf.
 */
int cvfio_hot_reset(int group, const char *device, const int *allowed, int nallowed, char *errbuf, size_t errlen);

/* Whether the group is viable (every device in it bound to a VFIO driver or unbound): 1, 0, or -errno. */
int cvfio_group_viable(int group, char *errbuf, size_t errlen);

/*
 * Opens /dev/vfio/<group> and returns the descriptor (>= 0), or -errno with a description in errbuf. While it is
 * open no other process can open the group (the kernel allows one opener: EBUSY), so no VMM can start using the
 * device during a reset. cvfio_close releases it.
 */
int cvfio_hold_group(int group, char *errbuf, size_t errlen);
void cvfio_close(int fd);

#endif
