"""The steps of `mvc demo` (a private module: not a command)."""
from __future__ import annotations

import json
import os
import random
import struct

import click

CONFIG = {"learning_rate": 0.001, "epochs": 3, "optimizer": "adam", "hidden": 512}


def make_model(folder: str, n_floats: int = 512 * 1024) -> str:
    """A ~2 MiB safetensors file (one F32 tensor), config.json and tokenizer.json."""
    model = os.path.join(folder, "sample-model")
    os.makedirs(model)
    rng = random.Random(20240501)
    data = rng.randbytes(n_floats * 4)
    header = {"dense.weight": {"dtype": "F32", "shape": [512, n_floats // 512], "data_offsets": [0, len(data)]},
              "__metadata__": {"format": "pt", "source": "mvc demo"}}
    hbytes = json.dumps(header, separators=(",", ":")).encode()
    hbytes += b" " * (-len(hbytes) % 8)
    with open(os.path.join(model, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)) + hbytes + data)
    with open(os.path.join(model, "config.json"), "w", encoding="utf-8") as f:
        json.dump({"architectures": ["DemoNet"], "hidden_size": 512, "vocab_size": 8}, f, indent=2)
    with open(os.path.join(model, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump({"model": {"type": "WordLevel", "vocab": {w: i for i, w in enumerate(
            ["<pad>", "<unk>", "the", "cat", "sat", "on", "a", "mat"])}}}, f, indent=2)
    return model


def step(n: int, title: str, command: str) -> None:
    click.secho(f"\n[{n}/4] {title}", bold=True)
    click.echo(f"      $ {command}")


def tour(c, tmp: str, name: str, registered: str) -> tuple:
    from mvc.api import lineage
    folder = make_model(tmp)
    click.echo(f"mvc demo: sample model in {folder} (model.safetensors, config.json, tokenizer.json)")
    art = _log(c, folder, name)
    used = _use(c, name, tmp)
    link = _link(c, art, registered)
    step(4, "Lineage: which runs made and used the version", f"mvc lineage {name}:{art.version}")
    click.echo(lineage.render(c.api().lineage(art.address), "text"))
    click.echo(f"\nDone. Store: {c.api().repo.path}")
    click.echo(f"Next: mvc ls {name} | mvc show {name}:best | mvc registry show {registered} | mvc runs ls")
    return art, used, link


def _log(c, folder: str, name: str):
    step(1, "Log the model in a training run (config recorded with the run)",
         f"mvc log {folder} --name {name} --alias best --metadata '{{\"accuracy\": 0.93}}'")
    with c.start_run(job_type="demo-train", config=CONFIG) as run:
        for epoch, loss in enumerate((0.9, 0.5, 0.3)):
            run.log({"epoch": epoch, "loss": loss})
        art = run.log_model(folder, name=name, aliases=["best"], metadata={"accuracy": 0.93})
    new = "new version" if art.created_by == run.id else "same content as before: no new version"
    click.echo(f"      -> {art.address} ({new}; {art.file_count} files, aliases: {', '.join(art.aliases)})")
    click.echo(f"      run {run.name} ({run.id}), config {json.dumps(CONFIG, sort_keys=True)}")
    return art


def _use(c, name: str, tmp: str) -> str:
    out = os.path.join(tmp, "downloaded")
    step(2, "Use it by alias in an evaluation run (verified on the way out)", f"mvc use {name}:best -o {out}")
    with c.start_run(job_type="demo-eval") as run:
        path = run.use_model(f"{name}:best", root=out)
        run.log({"eval_accuracy": 0.92})
    click.echo(f"      -> {path}: {', '.join(sorted(os.listdir(path)))}")
    return path


def _link(c, art, registered: str):
    step(3, "Link the version into a registered model (a pointer, no copy)",
         f"mvc link {art.name}:{art.version} --to {registered} --alias staging")
    link = art.link(registered, aliases=["staging"])
    click.echo(f"      -> {link.address} points at {link.source} (aliases: {', '.join(link.aliases)})")
    return link
