/* replay: runs a harness over files and directories of inputs, without
 * libFuzzer, so `make test` can replay every corpus with the sanitized build.
 * Usage: replay_NAME PATH...   Prints "replay NAME: N inputs". */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += r;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) exit(2);
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 1;
}

static int replay(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) return replay_file(path);
  struct dirent **names;
  int n = scandir(path, &names, NULL, alphasort), count = 0;
  for (int i = 0; i < n; i++) {
    if (names[i]->d_name[0] != '.') {
      char sub[4096];
      snprintf(sub, sizeof sub, "%s/%s", path, names[i]->d_name);
      count += replay(sub);
    }
    free(names[i]);
  }
  free(names);
  return count;
}

int main(int argc, char **argv) {
  const char *name = strrchr(argv[0], '_') ? strrchr(argv[0], '_') + 1 : argv[0];
  int count = 0;
  for (int i = 1; i < argc; i++) count += replay(argv[i]);
  printf("replay %s: %d inputs\n", name, count);
  return 0;
}
