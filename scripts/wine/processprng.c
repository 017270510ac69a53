/* bcryptprimitives.dll for Wine 8, which has none: Rust's std (1.78 and later) imports
 * ProcessPrng from it for random bytes (HashMap keys). This forwards to RtlGenRandom
 * (advapi32's SystemFunction036), which Wine has. Built by scripts/wine.sh with mingw-w64
 * and installed as a native DLL in the test Wine prefix only: never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
