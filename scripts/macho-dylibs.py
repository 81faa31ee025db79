#!/usr/bin/env python3
"""python3 scripts/macho-dylibs.py FILE: prints a Mach-O executable's CPU type (arm64 or x86_64) on its
first line, then each library it loads (LC_LOAD_DYLIB and its weak, re-export and
upward forms), one per line. Fails on anything but a thin 64-bit Mach-O executable.
No macOS tool is needed (otool is not on Linux)."""
import struct
import sys

MH_MAGIC_64 = 0xFEEDFACF
MH_EXECUTE = 2
CPU = {0x0100000C: "arm64", 0x01000007: "x86_64"}
LOAD_DYLIBS = {0xC, 0x80000018, 0x8000001F, 0x80000023}  # load, weak, reexport, upward


def main(path):
    data = open(path, "rb").read()
    magic, cputype, _sub, filetype, ncmds, _size, _flags, _res = struct.unpack_from("<IiiIIIII", data)
    if magic != MH_MAGIC_64 or filetype != MH_EXECUTE:
        sys.exit(f"{path}: not a 64-bit Mach-O executable")
    print(CPU.get(cputype & 0xFFFFFFFF, f"cpu 0x{cputype & 0xFFFFFFFF:x}"))
    offset = 32
    for _ in range(ncmds):
        cmd, cmdsize = struct.unpack_from("<II", data, offset)
        if cmd in LOAD_DYLIBS:
            (name_offset,) = struct.unpack_from("<I", data, offset + 8)
            raw = data[offset + name_offset : offset + cmdsize]
            print(raw.split(b"\0", 1)[0].decode())
        offset += cmdsize


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
