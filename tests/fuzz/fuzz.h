/* fuzz: what the harnesses in tests/fuzz share.
 *
 * Each fuzz_NAME.c defines LLVMFuzzerTestOneInput.  `make fuzz` links it with
 * libFuzzer (clang-19, -fsanitize=fuzzer,address,undefined); `make test`
 * links it with replay.c instead, which feeds it every file of the corpora,
 * so any C compiler replays them and a fixed crash stays fixed.
 */
#ifndef NNC_FUZZ_H
#define NNC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A private directory for the harness's files (on a RAM file system when
 * there is one: syncs there cost nothing), removed at exit. */
const char *fuzz_dir(void);
/* PATH of name in it (a static buffer per call slot, 4 slots). */
const char *fuzz_path(const char *name);
/* Writes n bytes to path, replacing it. */
void fuzz_write(const char *path, const void *p, size_t n);
/* A broken promise of the code under test: prints and aborts, which the
 * fuzzer records as a crash. */
void fuzz_fail(const char *what);

#endif
