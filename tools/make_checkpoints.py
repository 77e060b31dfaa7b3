#!/usr/bin/env python3
"""PyTorch-pickle checkpoints for isoformer's convert / inspect / download tests.

Run in the fixture venv (see tools/make_fixtures.py), after make_fixtures.py:
    .venv/bin/python tools/make_checkpoints.py            # small files, committed
    .venv/bin/python tools/make_checkpoints.py --official /tmp/official   # 2.6 GB, NOT committed

Writes tests/fixtures/hub/tiny/ in the official repository's file layout (config.json, the three
vocab files, pytorch_model.bin written by torch.save(model.state_dict()) in the ZIP format), the
same tensors in torch's legacy (pre-1.6) format for a subset, and hostile pickles: each
references a global outside the tensor-rebuilding allow-list and would, if unpickled by Python,
create a marker file. The tests check that the marker never appears.
"""
import io
import json
import os
import pickle
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "tests" / "fixtures" / "hub"
MARKER = "/tmp/isoformer-pickle-executed"


def tiny_state_dict():
    """The tiny model's tensors (models/tiny, made by make_fixtures.py) plus the `_trunk.*`
    aliases torch's state_dict() has, sharing storage with their canonical tensors."""
    sd = load_file(str(ROOT / "models" / "tiny" / "model.safetensors"))
    return sd


def write_tiny():
    out = HUB / "tiny"
    out.mkdir(parents=True, exist_ok=True)
    sd = tiny_state_dict()
    # torch.save of a state_dict shares the storage of aliased tensors: rebuild that sharing.
    canon = {}
    for k, v in sd.items():
        canon[k] = v
    trunk = {"_trunk.1.": "stem.", "_trunk.2.": "conv_tower.", "_trunk.4.": "transformer.", "_trunk.6.": "final_pointwise."}
    for k in list(canon):
        for a, c in trunk.items():
            p = "enformer." + a
            if k.startswith(p):
                ck = "enformer." + c + k[len(p):]
                if ck in canon and torch.equal(canon[ck], canon[k]):
                    canon[k] = canon[ck]  # same tensor object -> same storage in the pickle
    torch.save(canon, out / "pytorch_model.bin")
    shutil.copy(ROOT / "models" / "tiny" / "config.json", out / "config.json")
    for v in ("dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"):
        shutil.copy(ROOT / "models" / v, out / v)
    # Legacy (PyTorch < 1.6) stream format, for the ESM part only (keeps the fixture small).
    esm = {k: v for k, v in sd.items() if k.startswith("esm_model.esm.encoder.layer.0.")}
    torch.save(esm, HUB / "legacy_esm_layer0.bin", _use_new_zipfile_serialization=False)
    torch.save(esm, HUB / "zip_esm_layer0.bin")
    print(f"wrote {out} and legacy/zip ESM layer-0 checkpoints")


class Evil:
    """Unpickling this runs os.system: the payload the reader must refuse without running."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def write_hostile():
    t = {"w": torch.zeros(2, 3)}
    # 1. a ZIP checkpoint whose data.pkl also calls os.system
    buf = io.BytesIO()
    torch.save({"w": t["w"], "x": Evil()}, buf)
    (HUB / "evil_os_system.bin").write_bytes(buf.getvalue())
    # 2. a plain protocol-4 pickle using STACK_GLOBAL for builtins.exec
    (HUB / "evil_exec.pkl").write_bytes(
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00"
        + b"\x8c\x08builtins\x94\x8c\x04exec\x94\x93\x94"
        + b"\x8c\x16open('/tmp/x','w')\x94\x85\x94R\x94."
    )
    print("wrote hostile pickles")


def official_config():
    """The official IsoFormer geometry, in make_fixtures.py's config dict form."""
    sys.path.insert(0, str(ROOT / "tools"))
    import make_fixtures as mf
    c = dict(mf.TINY)
    c.update({
        "enformer_dim": 1536, "enformer_depth": 11, "enformer_heads": 8, "enformer_attn_dim_key": 64,
        "enformer_num_downsamples": 7, "enformer_dim_divisible_by": 128, "enformer_target_length": 896,
        "nt_hidden_size": 768, "nt_num_hidden_layers": 24, "nt_num_attention_heads": 16,
        "nt_intermediate_size": 3072, "nt_layer_norm_eps": 1e-12,
        "esm_hidden_size": 640, "esm_num_hidden_layers": 30, "esm_num_attention_heads": 20,
        "esm_intermediate_size": 2560, "num_heads_omics_cross_attention": 8,
        "pool_window_start": 0, "pool_window_end": 896, "_head_hidden": 128,
    })
    return c


def write_official(path):
    """An official-geometry IsoFormer with random weights, saved as the Hub does (2.6 GB)."""
    c = official_config()
    import make_fixtures as mf
    names = {"dna": "enformer", "rna": "nt_model", "protein": "esm_model"}
    torch.manual_seed(0)
    model = mf.Isoformer(c, names).eval()
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "pytorch_model.bin")
    with open(out / "config.json", "w") as f:
        json.dump(mf.public_config(c), f, indent=2)
    for v in ("dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"):
        shutil.copy(ROOT / "models" / v, out / v)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {out} ({(out / 'pytorch_model.bin').stat().st_size / 1e9:.2f} GB, {n} parameters)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--official":
        write_official(sys.argv[2])
    else:
        HUB.mkdir(parents=True, exist_ok=True)
        write_tiny()
        write_hostile()
