"""Hooks: git hook scripts and their install (gitinstall.py, githooks.py), the mvc.lock file
(lockfile.py), store events (events.py: veto before a ref moves, a spool and delivery after it),
the user's executables in .mvc/hooks (runner.py), webhooks (webhooks.py) and protected aliases
(protect.py).  A layer below repo: it reads and writes git metadata through meta and never
imports repo, api or cli."""
