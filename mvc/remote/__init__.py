"""Remotes: metadata over git transports (gitsync.py), bytes over storage backends
(storage/, transfer.py), and the commands built on them (push.py, fetch.py, clone.py).

Layer: imports repo, meta and store; api and cli import it.  Nothing is imported here,
so that `import mvc.remote.remotes` costs no pygit2 transport or boto3 import."""
