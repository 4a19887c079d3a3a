#ifndef GPUMON_CUDEV_SHIM_H
#define GPUMON_CUDEV_SHIM_H
#include <libudev.h>
#include <errno.h>

/* errno is a macro; Swift reads it through this. */
static inline int cudev_errno(void) { return errno; }
static inline void cudev_clear_errno(void) { errno = 0; }
#endif
