"""Benchmark data, generated deterministically (BLAKE3 extendable output)."""
from __future__ import annotations

import json
import os
import struct

import blake3

MiB = 1 << 20


def stream(seed: str, n: int) -> bytes:
    return blake3.blake3(seed.encode()).digest(length=n)


def write_safetensors(path: str, tensors: list[tuple[str, str, int]]) -> None:
    """tensors: (name, seed, bytes); fp16, written in order."""
    header, off = {}, 0
    for name, _, n in tensors:
        header[name] = {"dtype": "F16", "shape": [n // 2], "data_offsets": [off, off + n]}
        off += n
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, sort_keys=True).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _, seed, n in tensors:
            f.write(stream(seed, n))


def model_dir(path: str, finetune: int = 0, n_tensors: int = 64, tensor_bytes: int = 16 * MiB) -> None:
    """A model folder: model.safetensors, config.json, tokenizer.json.  Fine-tune k
    (1..4) changes a different 10% of the tensors than every other fine-tune."""
    os.makedirs(path, exist_ok=True)
    step = max(1, n_tensors // 10)
    changed = set(range((finetune - 1) * step, finetune * step)) if finetune else set()
    tensors = [(f"layers.{i}.weight", f"ft{finetune}-t{i}" if i in changed else f"base-t{i}", tensor_bytes)
               for i in range(n_tensors)]
    write_safetensors(os.path.join(path, "model.safetensors"), tensors)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"hidden_size": 4096, "layers": n_tensors, "finetune": finetune}, f)
    with open(os.path.join(path, "tokenizer.json"), "wb") as f:
        f.write(stream("tokenizer", 2 * MiB).hex().encode()[:2 * MiB])


def small_files(path: str, count: int = 20_000) -> None:
    """``count`` files of 1-8 KiB in 100 folders."""
    data = stream("small", count * 8192)
    for i in range(count):
        d = os.path.join(path, f"d{i % 100:03d}")
        os.makedirs(d, exist_ok=True)
        n = 1024 + (i * 7919) % (7 * 1024 + 1)
        with open(os.path.join(d, f"f{i:05d}.txt"), "wb") as f:
            f.write(data[i * 8192:i * 8192 + n])


def big_file(path: str, size: int) -> None:
    with open(path, "wb") as f:
        for i in range(0, size, 64 * MiB):
            f.write(stream(f"big{i}", min(64 * MiB, size - i)))
