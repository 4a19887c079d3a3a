#ifndef GPUMON_CVFIO_H
#define GPUMON_CVFIO_H
#include <stddef.h>

/*
 * A bus reset of every function behind one bridge, done the way QEMU does it: through the VFIO group of the
 * devices (VFIO_DEVICE_PCI_HOT_RESET). The caller must ensure no process holds the group open.
 *
 * group: the IOMMU group number (/dev/vfio/<group>); device: one function in it ("0000:01:00.0").
 * Returns 0, or -errno with a one-line description of the failed step in errbuf.
 */
int cvfio_hot_reset(int group, const char *device, char *errbuf, size_t errlen);

/* Whether the group is viable (every device in it bound to a VFIO driver or unbound): 1, 0, or -errno. */
int cvfio_group_viable(int group, char *errbuf, size_t errlen);

#endif
