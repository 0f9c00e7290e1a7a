// libFuzzer's entry points: the driver, called from FuzzGGUF's main (SwiftPM renames an executable's Swift main and
// points `main` at it, so libFuzzer's own main is never linked in; its driver is).
#ifndef FUZZER_DRIVER_H
#define FUZZER_DRIVER_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
/// libFuzzer's own byte-level mutator, for a custom mutator to fall back on.
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
#endif
