/* Test-only: Wine 8's bcryptprimitives.dll lacks ProcessPrng, which Rust's std
 * calls for randomness since 1.78. This DLL exports it over RtlGenRandom
 * (advapi32's SystemFunction036) so Rust binaries run under Wine. Built with
 * mingw-w64 into the test's Wine prefix by scripts/lib.sh (need_wine); never
 * shipped. */
#include <windows.h>

BOOLEAN NTAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
