#!/usr/bin/env python3
"""Packs one staged release directory into a reproducible archive (used by scripts/dist.sh).

    scripts/archive.py STAGE_PARENT STEM OUTPUT EPOCH

packs STAGE_PARENT/STEM/ as STEM/... into OUTPUT: a .tar.gz (gzip header without name or
time) or a .zip, by OUTPUT's extension. Entries are sorted, timestamped EPOCH (the commit's
time), owned by root (tar), mode 0755 for the binary and directories, 0644 for the rest. The
same inputs give the same bytes on Linux and macOS: Python's tarfile, gzip and zipfile stand in
for GNU tar and zip, which the release's macOS runners do not have.
"""

import gzip
import io
import os
import sys
import tarfile
import time
import zipfile


def entries(parent, stem):
    """(relative path, absolute path, is_dir) for STEM and everything under it, sorted."""
    found = [(stem, os.path.join(parent, stem), True)]
    for root, dirs, files in os.walk(os.path.join(parent, stem)):
        for name in dirs + files:
            full = os.path.join(root, name)
            if os.path.islink(full):
                sys.exit(f"archive.py: {full} is a symlink; release archives hold files only")
            rel = os.path.relpath(full, parent).replace(os.sep, "/")
            found.append((rel, full, os.path.isdir(full)))
    return sorted(found)


def mode(full, is_dir):
    return 0o755 if is_dir or os.stat(full).st_mode & 0o100 else 0o644


def pack_tar_gz(items, output, epoch):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for rel, full, is_dir in items:
            info = tarfile.TarInfo(rel + ("/" if is_dir else ""))
            info.mtime = epoch
            info.mode = mode(full, is_dir)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if is_dir:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = os.path.getsize(full)
                with open(full, "rb") as f:
                    tar.addfile(info, f)
    with open(output, "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
            gz.write(raw.getvalue())


def pack_zip(items, output, epoch):
    # Zip times are local, two-second DOS times from 1980: the epoch read as UTC.
    stamp = time.gmtime(max(epoch, 315532800))[:6]
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for rel, full, is_dir in items:
            info = zipfile.ZipInfo(rel + ("/" if is_dir else ""), date_time=stamp)
            info.create_system = 3  # Unix, so the mode below is kept by unzip
            info.external_attr = (mode(full, is_dir) | (0o040000 if is_dir else 0o100000)) << 16
            if is_dir:
                info.external_attr |= 0x10  # MS-DOS directory bit
                z.writestr(info, b"")
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(full, "rb") as f:
                    z.writestr(info, f.read())


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    parent, stem, output, epoch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if not os.path.isdir(os.path.join(parent, stem)):
        sys.exit(f"archive.py: no directory {os.path.join(parent, stem)} to pack")
    items = entries(parent, stem)
    if output.endswith(".tar.gz"):
        pack_tar_gz(items, output, epoch)
    elif output.endswith(".zip"):
        pack_zip(items, output, epoch)
    else:
        sys.exit(f"archive.py: {output}: neither .tar.gz nor .zip")


if __name__ == "__main__":
    main()
