/* A disk whose fsync is slow, for `cargo xtask bench`: preloaded into the app (and the WebKit
 * processes it starts), every fsync and fdatasync first sleeps SLOW_FSYNC_MS milliseconds, then
 * runs. Unlike tracing the app (strace's fault injection, tried first), nothing else slows. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void slow_disk(void) {
    const char *value = getenv("SLOW_FSYNC_MS");
    long ms = value ? atol(value) : 0;
    if (ms > 0) {
        struct timespec wait = { ms / 1000, (ms % 1000) * 1000000L };
        while (nanosleep(&wait, &wait) != 0) {
        }
    }
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    slow_disk();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    slow_disk();
    return real(fd);
}
