/* cairo_api: libcairo.so.2 loaded at the first picture (see cairo_api.h). */
#define CAIRO_API_TABLE
#include "cairo_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "util.h"

CairoApi cairo_api;

static char load_error[512];

static void load(void) {
  void *lib = dlopen("libcairo.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(load_error, sizeof load_error, "%s (Debian's package libcairo2 provides it)", dlerror());
    return;
  }
  CairoApi api;
  /* dlsym's object pointer as a function pointer, as POSIX allows */
#define CAIRO_FIND(f)                                                                        \
  if (!(api.f = (__typeof__(api.f))dlsym(lib, #f))) {                                      \
    snprintf(load_error, sizeof load_error, "libcairo.so.2 has no %s (too old a cairo)", #f); \
    return;                                                                                  \
  }
  CAIRO_FUNCTIONS(CAIRO_FIND)
#undef CAIRO_FIND
  cairo_api = api;
}

bool cairo_api_load(char *err, size_t errlen) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, load);
  return !load_error[0] || errorf(err, errlen, "%s", load_error);
}
