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

static int allowed_group(const int *allowed, int nallowed, int group) {
    for (int i = 0; i < nallowed; i++) if (allowed[i] == group) return 1;
    return 0;
}

/* Opens a group, checks it is viable and attaches it to the container. */
static int attach_group(int container, int group, char *errbuf, size_t errlen) {
    int fd = open_group(group, errbuf, errlen);
    if (fd < 0) return fd;
    struct vfio_group_status status = { .argsz = sizeof status };
    if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status) < 0) {
        int err = errno; close(fd); return fail(errbuf, errlen, "VFIO_GROUP_GET_STATUS", err);
    }
    if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        close(fd);
        snprintf(errbuf, errlen, "group %d not viable (a device in it is on a host driver)", group);
        return -EBUSY;
    }
    if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &container) < 0) {
        int err = errno; close(fd); return fail(errbuf, errlen, "VFIO_GROUP_SET_CONTAINER", err);
    }
    return fd;
}

#define CVFIO_MAX_GROUPS 16

int cvfio_hot_reset(int group, const char *device, const int *allowed, int nallowed, char *errbuf, size_t errlen) {
    int result = 0, container = -1, devfd = -1, ngroups = 0;
    int groups[CVFIO_MAX_GROUPS], fds[CVFIO_MAX_GROUPS];
    struct vfio_pci_hot_reset_info *info = NULL;
    struct vfio_pci_hot_reset *reset = NULL;

    container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    if (container < 0) { result = fail(errbuf, errlen, "open /dev/vfio/vfio", errno); goto out; }
    fds[0] = attach_group(container, group, errbuf, errlen);
    if (fds[0] < 0) { result = fds[0]; goto out; }
    groups[0] = group;
    ngroups = 1;
    int iommu = ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;
    if (ioctl(container, VFIO_SET_IOMMU, iommu) < 0) {
        result = fail(errbuf, errlen, "VFIO_SET_IOMMU", errno); goto out;
    }
    devfd = ioctl(fds[0], VFIO_GROUP_GET_DEVICE_FD, device);
    if (devfd < 0) { result = fail(errbuf, errlen, "VFIO_GROUP_GET_DEVICE_FD", errno); goto out; }

    /* Ask which devices a hot reset affects; each of their groups must be allowed, open and ours. */
    size_t size = sizeof(*info) + 32 * sizeof(struct vfio_pci_dependent_device);
    info = calloc(1, size);
    if (!info) { result = fail(errbuf, errlen, "calloc", ENOMEM); goto out; }
    info->argsz = size;
    if (ioctl(devfd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info) < 0) {
        result = fail(errbuf, errlen, "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO", errno); goto out;
    }
    for (unsigned i = 0; i < info->count; i++) {
        int gid = (int)info->devices[i].group_id;
        int seen = 0;
        for (int g = 0; g < ngroups; g++) if (groups[g] == gid) seen = 1;
        if (seen) continue;
        if (!allowed_group(allowed, nallowed, gid) || ngroups == CVFIO_MAX_GROUPS) {
            snprintf(errbuf, errlen,
                "hot reset would also reset %04x:%02x:%02x.%x in group %d, which is not one of the slot's groups",
                info->devices[i].segment, info->devices[i].bus, info->devices[i].devfn >> 3,
                info->devices[i].devfn & 7, gid);
            result = -EPERM;
            goto out;
        }
        int fd = attach_group(container, gid, errbuf, errlen);
        if (fd < 0) { result = fd; goto out; }
        groups[ngroups] = gid;
        fds[ngroups] = fd;
        ngroups++;
    }
    reset = calloc(1, sizeof(*reset) + (size_t)ngroups * sizeof(int));
    if (!reset) { result = fail(errbuf, errlen, "calloc", ENOMEM); goto out; }
    reset->argsz = sizeof(*reset) + (size_t)ngroups * sizeof(int);
    reset->count = (unsigned)ngroups;
    for (int g = 0; g < ngroups; g++) reset->group_fds[g] = fds[g];
    if (ioctl(devfd, VFIO_DEVICE_PCI_HOT_RESET, reset) < 0) {
        result = fail(errbuf, errlen, "VFIO_DEVICE_PCI_HOT_RESET", errno); goto out;
    }
out:
    free(reset);
    free(info);
    if (devfd >= 0) close(devfd);
    for (int g = 0; g < ngroups; g++) close(fds[g]);
    if (container >= 0) close(container);
    return result;
}

int cvfio_hold_group(int group, char *errbuf, size_t errlen) {
    return open_group(group, errbuf, errlen);
}

void cvfio_close(int fd) {
    if (fd >= 0) close(fd);
}
