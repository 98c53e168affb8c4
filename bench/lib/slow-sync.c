// A slow disk for benchmarks, by LD_PRELOAD: every fsync and fdatasync of
// the process sleeps WINDBACK_SLOW_SYNC_US microseconds before the real call
// (a network volume or a disk without a write cache syncs in milliseconds;
// this machine's virtual disk in about 0.1 ms). Both the Windback servers and
// the baselines get it, so their ratio is what a slower disk would give.
// Built by bench/lib/slow-sync.ts with the system C compiler.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static long delay_us(void) {
  static long cached = -1;
  if (cached < 0) {
    const char *text = getenv("WINDBACK_SLOW_SYNC_US");
    cached = text ? atol(text) : 0;
  }
  return cached;
}

static void pause_for_disk(void) {
  long us = delay_us();
  if (us <= 0) return;
  struct timespec t = { us / 1000000, (us % 1000000) * 1000 };
  while (nanosleep(&t, &t) != 0) {
  }
}

int fdatasync(int fd) {
  static int (*real)(int) = 0;
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  pause_for_disk();
  return real(fd);
}

int fsync(int fd) {
  static int (*real)(int) = 0;
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  pause_for_disk();
  return real(fd);
}
