"""What kind of filesystem a path lies on: whether other hosts may write it too.

Advisory locks and "no process on this host holds it" prove nothing on a filesystem
another host shares, so gc and the ref locks take the cautious rule there."""
from __future__ import annotations

import os

NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "afs", "gpfs",
              "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone"}


def on_network_fs(path: str) -> bool:
    """Whether ``path`` lies on a filesystem other hosts may write (Linux
    /proc/mounts; unknown counts as network: the cautious answer)."""
    try:
        with open("/proc/mounts", encoding="utf-8", errors="replace") as f:
            mounts = [line.split()[1:3] for line in f if len(line.split()) >= 3]
    except OSError:
        return True
    real = os.path.realpath(path)
    best, fstype = "", None
    for point, kind in mounts:
        point = point.replace("\\040", " ")
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, fstype = point, kind
    return fstype is None or fstype in NETWORK_FS
