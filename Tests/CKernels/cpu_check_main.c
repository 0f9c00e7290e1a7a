// Runs MoECPUCheck's moe_cpu_supported (Sources/MoECPUCheck) and prints its verdict: used by
// scripts/test_c_kernels.sh to check, under qemu-user, that an arm64 core without the dot-product
// extension is refused by name and one with it is accepted.
#include <stdio.h>
#include "MoECPUCheck.h"

int main(void) {
    char missing[64];
    if (moe_cpu_supported(missing, sizeof missing)) {
        printf("supported\n");
        return 0;
    }
    printf("missing: %s\n", missing);
    return 3;
}
