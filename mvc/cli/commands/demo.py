"""mvc demo: a two-minute tour on a small generated model."""
import click

from .. import context


@click.command(short_help="Walk through log -> use -> link -> lineage on a small sample model.")
@click.option("--name", default="demo-model", show_default=True, help="Artifact name for the sample model.")
@click.option("--registered-model", default="demo-model-prod", show_default=True,
              help="Registered model to link it into.")
def command(name, registered_model) -> None:
    """Build a small sample model (safetensors-style weights, config.json,
    tokenizer.json) in a temporary folder, then log it in a run, use it by
    alias in a second run, link it into a registered model and print its
    lineage, showing the equivalent CLI command for each step.  Uses the
    usual store (-C/MVC_DIR, else the nearest .mvc above, else a new one at the
    project root)."""
    import tempfile
    c = context.get()
    with tempfile.TemporaryDirectory(prefix="mvc-demo-") as tmp:
        from . import _demo
        _demo.tour(c, tmp, name, registered_model)
