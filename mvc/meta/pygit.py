"""pygit2 with mvc's setting applied (every libgit2 write fsynced, as every mvc write is).
Import it from here, never ``import pygit2`` directly, in code that writes through libgit2;
reads go through mvc/meta/odb.py and do not load pygit2 at all."""
import pygit2

pygit2.settings.enable_fsync_gitdir(True)

__all__ = ["pygit2"]
