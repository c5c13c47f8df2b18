"""One module per command: ``<name>.py`` exposes a click command or group named
``command``; its name is the module name with '_' turned into '-'.  Modules
here import only click (and mvc.cli helpers) at top level, so `mvc --help`
stays fast; heavy imports go inside the command functions."""
