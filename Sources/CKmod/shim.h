#ifndef GPUMON_CKMOD_SHIM_H
#define GPUMON_CKMOD_SHIM_H
#include <libkmod.h>
#endif
