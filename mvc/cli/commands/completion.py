"""mvc completion: print the shell completion script (click's) for bash, zsh or fish."""
import click

SHELLS = ("bash", "zsh", "fish")


@click.command(short_help="Print the shell completion script for bash, zsh or fish.")
@click.argument("shell", type=click.Choice(SHELLS))
def command(shell) -> None:
    """Print the script that makes SHELL complete mvc's commands, options and
    arguments.  Enable it for every new shell (README.md, "Shell completion"):

    \b
      bash:  eval "$(mvc completion bash)"          in ~/.bashrc (bash 4.4 or newer)
      zsh:   eval "$(mvc completion zsh)"           in ~/.zshrc
      fish:  mvc completion fish > ~/.config/fish/completions/mvc.fish

    The script asks `mvc` itself for the candidates (click's _MVC_COMPLETE
    protocol), so new commands complete without regenerating it."""
    from click.shell_completion import get_completion_class

    from ..main import cli
    completer = get_completion_class(shell)(cli, {}, "mvc", "_MVC_COMPLETE")
    click.echo(completer.source(), nl=False)  # byte for byte what `_MVC_COMPLETE=bash_source mvc` prints
