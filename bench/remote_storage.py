"""Remote bytes: mvc's chunk push and fetch against boto3's own transfers, to the same S3
API server (moto's standalone server on 127.0.0.1, started here), in the same run.

    python bench/remote_storage.py --work /tmp/mvc-rs-bench [--size 256] [--small 2000] [--runs 3]
                                   [--jobs 8] [--only model,small,finetune]

- model: a new safetensors model of ``--size`` MiB (64 tensors).  push_chunks vs
  ``upload_file`` and fetch_chunks vs ``download_file`` of the same file (boto3's default
  TransferConfig: 8 MiB multipart, 10 threads).  Goal: >= 0.8x their throughput.
  Also against boto3 ``put_object``/``get_object`` of the same chunk spans on ``--jobs``
  threads without any check: what the server gives for objects of that size.
- small: ``--small`` files of 1-8 KiB.  push_chunks (requests counted on the wire with a
  boto3 event hook) vs one ``put_object`` per file.  Goal: <= 50 requests, >= 10x faster.
- finetune: 6 of 64 tensors changed; bytes sent / changed bytes.  Goal: <= 1.1x.  Also
  the time of a push with nothing new (goal <= 0.3 s).

Medians of ``--runs``; every push goes to a fresh prefix, every fetch into a fresh store.
Prints a markdown table; deletes its data at the end.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import data  # noqa: E402
import s3_server  # noqa: E402

from mvc.remote.storage import open_storage  # noqa: E402
from mvc.remote.transfer import fetch_chunks, push_chunks  # noqa: E402
from mvc.store.chunks import DirChunkStore  # noqa: E402
from mvc.store.ingest import ingest_tree  # noqa: E402

MiB = 1 << 20
ROWS: list[tuple[str, str, str]] = []


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def fresh(path: str) -> str:
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def ingest(store_dir: str, src: str) -> list[tuple[str, object]]:
    entries, _ = ingest_tree(DirChunkStore(fresh(store_dir)), src)
    return entries


def chunk_ids(entries) -> list[str]:
    return list(dict.fromkeys(c for _, p in entries for c, _ in p.chunks))


def row(what: str, figure: str, note: str = "") -> None:
    ROWS.append((what, figure, note))
    print(f"  {what}: {figure} {note}", file=sys.stderr, flush=True)


def bench_model(args, client, bucket) -> None:
    src = fresh(os.path.join(args.work, "model"))
    n = 64
    data.write_safetensors(os.path.join(src, "model.safetensors"),
                           [(f"t{i}", f"m{i}", args.size * MiB // n) for i in range(n)])
    path = os.path.join(src, "model.safetensors")
    size = os.path.getsize(path)
    entries = ingest(os.path.join(args.work, "store-a"), src)
    store = DirChunkStore(os.path.join(args.work, "store-a"))
    ids = chunk_ids(entries)
    up_base, up_ours, down_base, down_ours, up_pieces, down_pieces = [], [], [], [], [], []
    pieces = [(off, n) for off, n in _spans(entries, "model.safetensors")]
    for r in range(args.runs):
        t, _ = timed(lambda: _put_pieces(client, bucket, f"pieces-{r}", path, pieces, args.jobs))
        up_pieces.append(t)
        out = os.path.join(args.work, "pieces.bin")
        t, _ = timed(lambda: _get_pieces(client, bucket, f"pieces-{r}", out, pieces, args.jobs))
        down_pieces.append(t)
        os.unlink(out)
        t, _ = timed(lambda: client.upload_file(path, bucket, f"baseline/{r}"))
        up_base.append(t)
        storage = open_storage(f"s3://{bucket}/model-{r}")
        t, stats = timed(lambda: push_chunks(store, storage, ids, jobs=args.jobs))
        assert stats["chunks"] == len(ids), stats
        up_ours.append(t)
        out = os.path.join(args.work, "download.bin")
        t, _ = timed(lambda: client.download_file(bucket, f"baseline/{r}", out))
        down_base.append(t)
        os.unlink(out)
        dst = DirChunkStore(fresh(os.path.join(args.work, "store-b")))
        t, stats = timed(lambda: fetch_chunks(dst, storage, ids, jobs=args.jobs))
        assert stats["chunks"] == len(ids), stats
        down_ours.append(t)
    for what, base, ours in (("push", up_base, up_ours), ("fetch", down_base, down_ours)):
        b, o = statistics.median(base), statistics.median(ours)
        row(f"model {args.size} MiB {what}", f"{size / MiB / o:.0f} MiB/s vs boto3 {size / MiB / b:.0f} MiB/s",
            f"ratio {b / o:.2f}x (goal >= 0.8x); medians {o:.2f} s vs {b:.2f} s")
    for what, base, ours in (("push", up_pieces, up_ours), ("fetch", down_pieces, down_ours)):
        b, o = statistics.median(base), statistics.median(ours)
        row(f"model {args.size} MiB {what} vs bare pieces", f"{size / MiB / o:.0f} MiB/s vs {size / MiB / b:.0f} MiB/s",
            f"ratio {b / o:.2f}x: boto3 put_object/get_object of the same {len(pieces)} chunk spans, "
            f"{args.jobs} threads, no checks (the server's ceiling for these objects)")


def _spans(entries, name):
    (ptr,) = [p for rel, p in entries if rel == name]
    off = 0
    for _, n in ptr.chunks:
        yield off, n
        off += n


def _put_pieces(client, bucket, prefix, path, pieces, jobs):
    from concurrent.futures import ThreadPoolExecutor
    with open(path, "rb") as f:
        fd = f.fileno()
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(lambda i: client.put_object(Bucket=bucket, Key=f"{prefix}/{i}",
                                                      Body=os.pread(fd, pieces[i][1], pieces[i][0])),
                          range(len(pieces))))


def _get_pieces(client, bucket, prefix, out, pieces, jobs):
    from concurrent.futures import ThreadPoolExecutor
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        def get(i):
            body = client.get_object(Bucket=bucket, Key=f"{prefix}/{i}")["Body"].read()
            os.pwrite(fd, body, pieces[i][0])
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(get, range(len(pieces))))
    finally:
        os.close(fd)


def bench_small(args, client, bucket) -> None:
    src = fresh(os.path.join(args.work, "small"))
    data.small_files(src, args.small)
    entries = ingest(os.path.join(args.work, "store-s"), src)
    store = DirChunkStore(os.path.join(args.work, "store-s"))
    ids = chunk_ids(entries)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs)
    ours, base, requests = [], [], []
    for r in range(args.runs):
        storage = open_storage(f"s3://{bucket}/small-{r}")
        sent = []
        storage.client.meta.events.register("before-send.s3", lambda request, **_: sent.append(1))
        t, stats = timed(lambda: push_chunks(store, storage, ids, jobs=args.jobs))
        ours.append(t)
        requests.append(len(sent))

        def per_file():
            for i, f in enumerate(files):
                with open(f, "rb") as fh:
                    client.put_object(Bucket=bucket, Key=f"per-file-{r}/{i}", Body=fh.read())
        t, _ = timed(per_file)
        base.append(t)
    o, b = statistics.median(ours), statistics.median(base)
    row(f"{args.small} small files push", f"{o:.2f} s, {max(requests)} requests",
        f"vs one put_object per file {b:.2f} s: {b / o:.1f}x faster (goals: <= 50 requests, >= 10x)")


def bench_finetune(args, client, bucket) -> None:
    tensor = max(1, args.size // 64) * MiB
    base_dir, ft_dir = os.path.join(args.work, "base"), os.path.join(args.work, "ft")
    for d, k in ((base_dir, 0), (ft_dir, 1)):
        shutil.rmtree(d, ignore_errors=True)
        data.model_dir(d, finetune=k, n_tensors=64, tensor_bytes=tensor)
    store_dir = fresh(os.path.join(args.work, "store-f"))
    store = DirChunkStore(store_dir)
    base, _ = ingest_tree(store, base_dir)
    ft, _ = ingest_tree(store, ft_dir)
    changed = 6 * tensor  # data.model_dir: fine-tune 1 changes tensors 0-5 of 64
    ratios, nothing = [], []
    for r in range(args.runs):
        storage = open_storage(f"s3://{bucket}/ft-{r}")
        push_chunks(store, storage, chunk_ids(base), jobs=args.jobs)
        stats = push_chunks(store, storage, chunk_ids(ft), jobs=args.jobs)
        ratios.append(stats["bytes"] / changed)
        t, again = timed(lambda: push_chunks(store, storage, chunk_ids(ft), jobs=args.jobs))
        assert again["chunks"] == 0
        nothing.append(t)
    row("fine-tune push (6 of 64 tensors)", f"{statistics.median(ratios):.3f}x the changed bytes",
        f"({changed // MiB} MiB changed; goal <= 1.1x)")
    row("push with nothing new", f"{statistics.median(nothing) * 1000:.1f} ms", "(goal <= 300 ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/mvc-rs-bench")
    ap.add_argument("--size", type=int, default=256, help="model size in MiB (1024 for the goal's 1 GiB)")
    ap.add_argument("--small", type=int, default=2000, help="small files (20000 for the goal)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--only", default="model,small,finetune")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    server = s3_server.start_moto()
    try:
        os.environ.update(server.env())
        import boto3
        client = boto3.client("s3")
        bucket = s3_server.make_bucket()
        only = args.only.split(",")
        for name, fn in (("model", bench_model), ("small", bench_small), ("finetune", bench_finetune)):
            if name in only:
                print(f"{name}...", file=sys.stderr, flush=True)
                fn(args, client, bucket)
    finally:
        server.stop()
        shutil.rmtree(args.work, ignore_errors=True)
    print(f"| measure (medians of {args.runs}, jobs={args.jobs}) | figure | note |\n|---|---|---|")
    for what, figure, note in ROWS:
        print(f"| {what} | {figure} | {note} |")


if __name__ == "__main__":
    main()
