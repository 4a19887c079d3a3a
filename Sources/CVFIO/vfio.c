#define _GNU_SOURCE
#include "cvfio.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(char *errbuf, size_t errlen, const char *step, int err) {
    snprintf(errbuf, errlen, "%s: %s", step, strerror(err));
    return -err;
}

static int open_group(int group, char *errbuf, size_t errlen) {
    char path[64];
    snprintf(path, sizeof path, "/dev/vfio/%d", group);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return fail(errbuf, errlen, "open /dev/vfio/<group>", errno);
    return fd;
}

int cvfio_group_viable(int group, char *errbuf, size_t errlen) {
    int fd = open_group(group, errbuf, errlen);
    if (fd < 0) return fd;
    struct vfio_group_status status = { .argsz = sizeof status };
    int rc = ioctl(fd, VFIO_GROUP_GET_STATUS, &status);
    int err = errno;
    close(fd);
    if (rc < 0) return fail(errbuf, errlen, "VFIO_GROUP_GET_STATUS", err);
    return (status.flags & VFIO_GROUP_FLAGS_VIABLE) ? 1 : 0;
}

int cvfio_hot_reset(int group, const char *device, char *errbuf, size_t errlen) {
    int result = 0, container = -1, groupfd = -1, devfd = -1;
    struct vfio_pci_hot_reset_info *info = NULL;
    struct vfio_pci_hot_reset *reset = NULL;

    container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    if (container < 0) { result = fail(errbuf, errlen, "open /dev/vfio/vfio", errno); goto out; }
    groupfd = open_group(group, errbuf, errlen);
    if (groupfd < 0) { result = groupfd; goto out; }

    struct vfio_group_status status = { .argsz = sizeof status };
    if (ioctl(groupfd, VFIO_GROUP_GET_STATUS, &status) < 0) {
        result = fail(errbuf, errlen, "VFIO_GROUP_GET_STATUS", errno); goto out;
    }
    if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        result = fail(errbuf, errlen, "group not viable (a device in it is on a host driver)", EBUSY); goto out;
    }
    if (ioctl(groupfd, VFIO_GROUP_SET_CONTAINER, &container) < 0) {
        result = fail(errbuf, errlen, "VFIO_GROUP_SET_CONTAINER", errno); goto out;
    }
    int iommu = ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;
    if (ioctl(container, VFIO_SET_IOMMU, iommu) < 0) {
        result = fail(errbuf, errlen, "VFIO_SET_IOMMU", errno); goto out;
    }
    devfd = ioctl(groupfd, VFIO_GROUP_GET_DEVICE_FD, device);
    if (devfd < 0) { result = fail(errbuf, errlen, "VFIO_GROUP_GET_DEVICE_FD", errno); goto out; }

    /* Ask which devices a hot reset affects; each of their groups must be ours. */
    size_t size = sizeof(*info) + 32 * sizeof(struct vfio_pci_dependent_device);
    info = calloc(1, size);
    if (!info) { result = fail(errbuf, errlen, "calloc", ENOMEM); goto out; }
    info->argsz = size;
    if (ioctl(devfd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info) < 0) {
        result = fail(errbuf, errlen, "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO", errno); goto out;
    }
    for (unsigned i = 0; i < info->count; i++) {
        if ((int)info->devices[i].group_id != group) {
            snprintf(errbuf, errlen,
                "hot reset would also reset %04x:%02x:%02x.%x in group %u, which is not this slot's group",
                info->devices[i].segment, info->devices[i].bus, info->devices[i].devfn >> 3,
                info->devices[i].devfn & 7, info->devices[i].group_id);
            result = -EPERM;
            goto out;
        }
    }
    reset = calloc(1, sizeof(*reset) + sizeof(int));
    if (!reset) { result = fail(errbuf, errlen, "calloc", ENOMEM); goto out; }
    reset->argsz = sizeof(*reset) + sizeof(int);
    reset->count = 1;
    reset->group_fds[0] = groupfd;
    if (ioctl(devfd, VFIO_DEVICE_PCI_HOT_RESET, reset) < 0) {
        result = fail(errbuf, errlen, "VFIO_DEVICE_PCI_HOT_RESET", errno); goto out;
    }
out:
    free(reset);
    free(info);
    if (devfd >= 0) close(devfd);
    if (groupfd >= 0) close(groupfd);
    if (container >= 0) close(container);
    return result;
}
