"""One module per command: ``<name>.py`` exposes a click command or group named
``command``; its name is the module name with '_' turned into '-'.  Modules
here import only click (and mvc.cli helpers) at top level, so `mvc --help`
stays fast; heavy imports go inside the command functions."""

# `mvc --help` lists these instead of importing and wrapping every command module (~40 ms of
# its start-up for 33 commands). tests/test_startup.py checks each against its command's own
# short_help, and that no command is missing; a command left out is imported to be listed.
SUMMARIES = {
    'alias': 'Set, remove, or show the history of aliases.',
    'clone': 'Make a new store from a remote.',
    'completion': 'Print the shell completion script for bash, zsh or fish.',
    'config': 'Get, set and list settings (TOML, store and user level).',
    'delete': 'Soft-delete a version (bring it back with `mvc restore`).',
    'demo': 'Walk through log -> use -> link -> lineage on a small sample model.',
    'diff': 'Show what changed between two versions: files, tensors, JSON keys.',
    'du': 'Show logical and stored bytes and the dedup ratio.',
    'fetch': "Fetch a remote's metadata (default: origin); change nothing here.",
    'fsck': 'Check the store: chunk hashes, pointers, git metadata.',
    'gc': 'Remove chunks and trash no version needs any more.',
    'hash': 'Print the digests a log would record for a file or folder.',
    'hooks': "Install mvc's git hooks; deliver pending store events.",
    'init': 'Create a store (in the project root, or -C DIR).',
    'lineage': 'Show the lineage of a version or run (text, json, dot, mermaid).',
    'link': 'Link a path (logged first) or an existing version into a registered model.',
    'lock': 'Check the model versions pinned in mvc.lock.',
    'log': 'Log a file or folder as a new version of an artifact.',
    'ls': 'List artifacts, or the versions of one, with aliases and sizes.',
    'migrate': 'Convert a store of an older format (format 1) in place.',
    'pull': 'Fetch a remote (default: origin) and fold it in.',
    'push': 'Send what a remote lacks (default: origin).',
    'registry': 'List, show, unlink and alias registered models.',
    'remote': 'Add, list and remove remotes (metadata URL + storage URL).',
    'restore': 'Restore a soft-deleted version.',
    'runs': 'List runs, or show one.',
    'show': 'Show one version: files, metadata, aliases, lineage, links.',
    'status': 'Show the store: location, format, counts, chunk bytes.',
    'ui': 'Browse the store in a local web page (registry, lineage, diffs).',
    'unlock': 'Remove locks and leases left behind by killed writers.',
    'use': 'Download a version into a folder and print its path.',
    'verify': 'Re-read every byte of one version against its digests.',
    'webhook': 'POST store events (log, link, alias) to URLs, signed.',
}
