#!/usr/bin/env python3
"""Random official-geometry weights and inputs for the benchmarks, written once to benches/weights/.

Both sides read the same files, so they compute the same function on the same inputs (run.py
compares their output checksums):
  config.json, *_vocab_list.txt    the official geometry (tools/make_checkpoints.py official_config)
  model.safetensors                the whole IsoFormer (enformer-pytorch's `_trunk.*` copies left out)
  enformer.safetensors             the Enformer trunk alone
  nt.safetensors, esm.safetensors  the NT-v2 and ESM-2 encoders (transformers `EsmModel` names)
  inputs.safetensors               DNA one-hot (1, 196608, 4); token ids for every workload

Run with the PyTorch venv's python: `python benches/make_weights.py benches/weights`.
"""
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from make_checkpoints import official_config  # noqa: E402
import make_fixtures as mf  # noqa: E402

NAMES = {"dna": "enformer", "rna": "nt_model", "protein": "esm_model"}
DNA_LEN = 196_608


def without_trunk(sd):
    """Drop enformer-pytorch's `_trunk.*` copies and the masked-LM heads (tied to the embeddings
    and unused by IsoFormer): safetensors refuses tensors that share memory."""
    return {k: v.contiguous() for k, v in sd.items() if "_trunk." not in k and "lm_head." not in k}


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = official_config()
    torch.manual_seed(0)
    model = mf.Isoformer(c, NAMES).eval()
    save_file(without_trunk(model.state_dict()), str(out / "model.safetensors"))
    save_file(without_trunk(model.enformer.state_dict()), str(out / "enformer.safetensors"))
    save_file(without_trunk(model.nt_model.esm.state_dict()), str(out / "nt.safetensors"))
    save_file(without_trunk(model.esm_model.esm.state_dict()), str(out / "esm.safetensors"))
    with open(out / "config.json", "w") as f:
        json.dump(mf.public_config(c), f, indent=2)
    for v in ("dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"):
        shutil.copy(ROOT / "models" / v, out / v)

    gen = torch.Generator().manual_seed(8)
    prot_vocab = (ROOT / "models" / "protein_vocab_list.txt").read_text().split()
    rna_vocab = (ROOT / "models" / "rna_vocab_list.txt").read_text().split()
    aa = [prot_vocab.index(a) for a in "LAGVSERTIDPKQNFYMHWC"]
    kmers = [i for i, t in enumerate(rna_vocab) if len(t) == 6 and set(t) <= set("ACGT")]
    p_cls, p_eos, r_cls = prot_vocab.index("<cls>"), prot_vocab.index("<eos>"), rna_vocab.index("<cls>")

    def protein(rows, cols):
        t = torch.tensor(aa)[torch.randint(0, len(aa), (rows, cols), generator=gen)]
        t[:, 0], t[:, -1] = p_cls, p_eos
        return t.long()

    def rna(rows, cols):
        t = torch.tensor(kmers)[torch.randint(0, len(kmers), (rows, cols), generator=gen)]
        t[:, 0] = r_cls
        return t.long()

    dna = torch.nn.functional.one_hot(torch.randint(0, 4, (1, DNA_LEN), generator=gen), 4).float()
    inputs = {
        "dna_onehot": dna,
        "esm_1x512": protein(1, 512),
        "esm_8x256": protein(8, 256),
        "nt_1x2048": rna(1, 2048),
        "full_rna": rna(1, 336),  # 2 kb as 6-mers + CLS
        "full_protein": protein(1, 502),  # 500 aa + CLS + EOS
    }
    save_file({k: v.contiguous() for k, v in inputs.items()}, str(out / "inputs.safetensors"))
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {out}: {n} parameters")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "benches" / "weights"))
