#!/usr/bin/env python3
"""Reference fixtures for isoformer's parity tests, made with the public PyTorch implementations.

Run once in a venv (never in CI):
    python3 -m venv .venv && .venv/bin/pip install torch enformer-pytorch safetensors
    .venv/bin/python tools/make_fixtures.py            # writes tests/fixtures/ and models/tiny/

What is the reference for what:
  * Enformer trunk: enformer-pytorch (`Enformer`, use_tf_gamma=False), unchanged.
  * ESM-2 protein encoder: transformers' `EsmForMaskedLM` (eager attention), unchanged.
  * NT-v2 RNA encoder: transformers' `EsmForMaskedLM` whose feed-forward is replaced by the
    module below. NT-v2's SwiGLU feed-forward is not in transformers; `SwiGluIntermediate`
    follows NT-v2's published definition (InstaDeep nucleotide-transformer, HF model code of
    the v2 checkpoints): `dense` is Linear(hidden -> 2*intermediate, bias=add_bias_fnn), the
    output split in halves [x1, x2], SiLU(x1) * x2; `output.dense` is Linear(intermediate ->
    hidden, bias=add_bias_fnn). It is written here, not imported.
  * Cross-attention fusion and head: the official modules are not public. `CrossAttention`
    follows docs/REFERENCE.md (q, k, v, dense with biases, keys masked with -1e30,
    out = dense(context) + x, no norm, no FFN). The head is mean over DNA bins
    [pool_window_start, pool_window_end) -> Linear -> activation -> Linear -> 30.
    A transcript without protein skips the protein cross-attention (its DNA embeddings pass
    through unchanged), the path isoformer documents in models/README.md.

Every parameter and BatchNorm statistic is randomised (upstream inits leave zeros, identities
and dirac kernels that hide transposition and indexing bugs).
"""
import json
import math
import os
import shutil
import sys
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

import enformer_pytorch
import safetensors
import transformers
from enformer_pytorch import Enformer
from safetensors.torch import save_file
from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures"
MODELS = ROOT / "models"
SEED = 20261125

TISSUES = [
    "Adipose Tissue", "Adrenal Gland", "Bladder", "Blood", "Blood Vessel", "Brain", "Breast",
    "Cervix Uteri", "Colon", "Esophagus", "Fallopian Tube", "Heart", "Kidney", "Liver", "Lung",
    "Muscle", "Nerve", "Ovary", "Pancreas", "Pituitary", "Prostate", "Salivary Gland", "Skin",
    "Small Intestine", "Spleen", "Stomach", "Testis", "Thyroid", "Uterus", "Vagina",
]


# ---------------------------------------------------------------- reference modules
class SwiGluIntermediate(nn.Module):
    """NT-v2 feed-forward, first half: SiLU(x1) * x2 over the split of one Linear."""

    def __init__(self, hidden, intermediate, bias):
        super().__init__()
        self.dense = nn.Linear(hidden, 2 * intermediate, bias=bias)

    def forward(self, x):
        x1, x2 = self.dense(x).chunk(2, dim=-1)
        return F.silu(x1) * x2


class NoBiasOutput(nn.Module):
    def __init__(self, intermediate, hidden, bias):
        super().__init__()
        self.dense = nn.Linear(intermediate, hidden, bias=bias)

    def forward(self, hidden_states, input_tensor):
        return self.dense(hidden_states) + input_tensor


def esm_forward(model, ids, output_hidden_states=False):
    """EsmModel with the attention mask given to the embeddings.

    transformers 4.56's `EsmModel.forward` no longer passes `attention_mask` to `EsmEmbeddings`,
    so padding rows are not zeroed and ESM's token-dropout ratio is taken over the padded length.
    ESM-2's own code, the transformers releases IsoFormer was built with (4.29) and
    docs/REFERENCE.md mask them; so do we (a transcript's result must not depend on what
    it was batched with). Passing the embeddings in restores that behaviour exactly."""
    mask = (ids != 1).long()
    emb = model.esm.embeddings(input_ids=ids, attention_mask=mask)
    return model.esm(inputs_embeds=emb, attention_mask=mask, output_hidden_states=output_hidden_states)


def make_nt(cfg):
    model = EsmForMaskedLM(cfg)
    for layer in model.esm.encoder.layer:
        layer.intermediate = SwiGluIntermediate(cfg.hidden_size, cfg.intermediate_size, False)
        layer.output = NoBiasOutput(cfg.intermediate_size, cfg.hidden_size, False)
    return model


class CrossAttention(nn.Module):
    def __init__(self, dim, other_dim, heads):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(other_dim, dim)
        self.value = nn.Linear(other_dim, dim)
        self.dense = nn.Linear(dim, dim)

    def forward(self, x, other, other_mask):
        b, n, d = x.shape
        h = self.heads
        q = self.query(x).view(b, n, h, d // h).transpose(1, 2)
        k = self.key(other).view(b, other.shape[1], h, d // h).transpose(1, 2)
        v = self.value(other).view(b, other.shape[1], h, d // h).transpose(1, 2)
        logits = q @ k.transpose(-1, -2) / math.sqrt(d // h)
        logits = logits.masked_fill(~other_mask[:, None, None, :].bool(), -1e30)
        attn = logits.softmax(dim=-1)
        ctx = (attn @ v).transpose(1, 2).reshape(b, n, d)
        return self.dense(ctx) + x


class Isoformer(nn.Module):
    """An IsoFormer-shaped model. Attribute names are parameters so that fixtures can prove the
    loader finds each subtree whatever the top-level prefixes are."""

    def __init__(self, c, names):
        super().__init__()
        self.names = names
        setattr(self, names["dna"], Enformer.from_hparams(
            dim=c["enformer_dim"], depth=c["enformer_depth"], heads=c["enformer_heads"],
            attn_dim_key=c["enformer_attn_dim_key"], num_downsamples=c["enformer_num_downsamples"],
            dim_divisible_by=c["enformer_dim_divisible_by"], target_length=c["enformer_target_length"],
            use_tf_gamma=False, output_heads=dict(), dropout_rate=0.0, attn_dropout=0.0, pos_dropout=0.0))
        setattr(self, names["rna"], make_nt(nt_config(c)))
        setattr(self, names["protein"], EsmForMaskedLM(esm_config(c)))
        dd = 2 * c["enformer_dim"]
        self.cross_attention_layer_rna = CrossAttention(dd, c["nt_hidden_size"], c["num_heads_omics_cross_attention"])
        self.cross_attention_layer_protein = CrossAttention(dd, c["esm_hidden_size"], c["num_heads_omics_cross_attention"])
        self.head_layer_1 = nn.Linear(dd, c["_head_hidden"])
        self.head_layer_2 = nn.Linear(c["_head_hidden"], len(TISSUES))
        self.pool = (c["pool_window_start"], c["pool_window_end"])

    def dna(self):
        return getattr(self, self.names["dna"])

    def rna(self):
        return getattr(self, self.names["rna"])

    def protein(self):
        return getattr(self, self.names["protein"])

    def forward(self, dna_onehot, rna_ids, protein_ids, has_protein, record=None):
        rec = record if record is not None else {}
        dna = self.dna()(dna_onehot, return_only_embeddings=True)
        rna_mask = (rna_ids != 1).long()
        rna = esm_forward(self.rna(), rna_ids).last_hidden_state
        prot_mask = (protein_ids != 1).long()
        prot = esm_forward(self.protein(), protein_ids).last_hidden_state
        x = self.cross_attention_layer_rna(dna, rna, rna_mask)
        rec["fusion.after_rna"] = x
        with_p = self.cross_attention_layer_protein(x, prot, prot_mask)
        x = torch.where(has_protein[:, None, None], with_p, x)
        rec["fusion.after_protein"] = x
        pooled = x[:, self.pool[0]:self.pool[1], :].mean(dim=1)
        out = self.head_layer_2(F.softplus(self.head_layer_1(pooled)))
        return dna, rna, prot, x, out


def nt_config(c):
    return EsmConfig(
        vocab_size=c["nt_vocab_size"], hidden_size=c["nt_hidden_size"],
        num_hidden_layers=c["nt_num_hidden_layers"], num_attention_heads=c["nt_num_attention_heads"],
        intermediate_size=c["nt_intermediate_size"], max_position_embeddings=c["nt_max_position_embeddings"],
        position_embedding_type="rotary", token_dropout=False, emb_layer_norm_before=False,
        layer_norm_eps=c["nt_layer_norm_eps"], pad_token_id=1, mask_token_id=c["nt_mask_token_id"],
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, attn_implementation="eager")


def esm_config(c):
    return EsmConfig(
        vocab_size=c["esm_vocab_size"], hidden_size=c["esm_hidden_size"],
        num_hidden_layers=c["esm_num_hidden_layers"], num_attention_heads=c["esm_num_attention_heads"],
        intermediate_size=c["esm_intermediate_size"], max_position_embeddings=c["esm_max_position_embeddings"],
        position_embedding_type="rotary", token_dropout=True, emb_layer_norm_before=False,
        pad_token_id=1, mask_token_id=c["esm_mask_token_id"],
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, attn_implementation="eager")


def randomise(model, gen):
    """Every float parameter and buffer gets N(0, s) values, scaled so activations stay O(1)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
            elif name.endswith("weight"):  # norm scales
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.3 * torch.randn(b.shape, generator=gen))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen))
        # Enformer's rel biases are (1, h, 1, d) parameters: randomised above with fan_in = numel.


# ---------------------------------------------------------------- seeded parameters
# Official-width blocks are too large to commit (~130 MB of weights), so their parameters are
# generated from their names by a rule isoformer's tests implement too (crate
# isoformer-model, `weights::SeededParams`): seed = FNV-1a 64 of the parameter name,
# u_i = (splitmix64(seed + i) >> 11) * 2^-53 in [0, 1), computed in float64, rounded to float32:
#   rank >= 2                  -> (2u - 1) * sqrt(3 / fan_in)      (fan_in = numel / shape[0])
#   rank 1, name ends "weight" -> 1 + 0.2 * (2u - 1)               (norm scales)
#   name ends "running_var"    -> 0.5 + u
#   other                      -> 0.2 * (2u - 1)                   (biases, running means)
import numpy as np

M64 = (1 << 64) - 1


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def splitmix64(x):
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def seeded_values(name, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    with np.errstate(over="ignore"):
        idx = np.arange(n, dtype=np.uint64) + np.uint64(fnv1a64(name))
    u = (splitmix64(idx) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    s = 2.0 * u - 1.0
    if len(shape) >= 2:
        v = s * math.sqrt(3.0 / (n // shape[0]))
    elif name.endswith("running_var"):
        v = 0.5 + u
    elif name.endswith("weight"):
        v = 1.0 + 0.2 * s
    else:
        v = 0.2 * s
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def seeded_init(module):
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("num_batches_tracked") or name.endswith("inv_freq"):
                continue
            t.copy_(seeded_values(name, tuple(t.shape)))


# ---------------------------------------------------------------- tokenizers
def rna_ids(tok, seq):
    # NT-v2 in IsoFormer: CLS first, no EOS. EsmTokenizer's trie splits 6-mers greedily.
    return [tok.cls_token_id] + tok(seq, add_special_tokens=False)["input_ids"]


def protein_ids(tok, seq):
    return tok(seq)["input_ids"]


DNA_INDEX = {"A": 0, "C": 1, "G": 2, "T": 3}


def dna_onehot(seq):
    out = torch.zeros(len(seq), 4)
    for i, ch in enumerate(seq.upper()):
        if ch in DNA_INDEX:
            out[i, DNA_INDEX[ch]] = 1.0
    return out


def pad(rows, pad_id=1):
    n = max(len(r) for r in rows)
    return torch.tensor([r + [pad_id] * (n - len(r)) for r in rows], dtype=torch.long)


def random_dna(gen, n, n_rate=0.02):
    letters = "ACGT"
    idx = torch.randint(0, 4, (n,), generator=gen).tolist()
    s = [letters[i] for i in idx]
    for i in torch.nonzero(torch.rand(n, generator=gen) < n_rate).flatten().tolist():
        s[i] = "N"
    return "".join(s)


def random_protein(gen, n):
    aa = "LAGVSERTIDPKQNFYMHWC"
    return "".join(aa[i] for i in torch.randint(0, len(aa), (n,), generator=gen).tolist())


# ---------------------------------------------------------------- recording
def enformer_record(enf, x, rec, p="enformer"):
    """Every stage of the trunk, for bisecting."""
    h = x.transpose(1, 2)
    h = enf.stem(h)
    rec[f"{p}.stem"] = h
    for i, stage in enumerate(enf.conv_tower):
        h = stage(h)
        rec[f"{p}.conv_tower.{i}"] = h
    h = h.transpose(1, 2)
    n = h.shape[1]
    rec[f"{p}.positions"] = enformer_pytorch.modeling_enformer.get_positional_embed(
        n, enf.dim // enf.transformer[0][0].fn[1].heads, h.device, use_tf_gamma=False)
    for i, block in enumerate(enf.transformer):
        h = block(h)
        rec[f"{p}.transformer.{i}"] = h
    h = enf.crop_final(h)
    rec[f"{p}.crop"] = h
    h = enf.final_pointwise(h)
    rec[f"{p}.out"] = h
    return h


def esm_record(model, ids, rec, p):
    out = esm_forward(model, ids, output_hidden_states=True)
    for i, hs in enumerate(out.hidden_states[:-1]):
        rec[f"{p}.hidden.{i}"] = hs  # 0 = embeddings, i = after layer i (before final LN)
    rec[f"{p}.out"] = out.last_hidden_state
    return out.last_hidden_state


def save(path, tensors, meta):
    tensors = {k: v.detach().contiguous().clone() for k, v in tensors.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={k: str(v) for k, v in meta.items()})
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.2f} MB, {len(tensors)} tensors)")


def versions():
    return {"seed": SEED, "torch": torch.__version__, "transformers": transformers.__version__,
            "enformer_pytorch": getattr(enformer_pytorch, "__version__", "0.8.12"),
            "safetensors": safetensors.__version__, "python": sys.version.split()[0]}


# ---------------------------------------------------------------- tiny geometry
TINY = {
    "model_type": "isoformer",
    "enformer_dim": 48, "enformer_depth": 2, "enformer_heads": 2, "enformer_attn_dim_key": 8,
    "enformer_num_downsamples": 3, "enformer_dim_divisible_by": 8, "enformer_target_length": 6,
    "enformer_use_tf_gamma": False, "enformer_use_convnext": False, "enformer_output_heads": 0,
    "nt_vocab_size": 4107, "nt_hidden_size": 40, "nt_num_hidden_layers": 2, "nt_num_attention_heads": 4,
    "nt_intermediate_size": 56, "nt_max_position_embeddings": 2050, "nt_add_bias_fnn": False,
    "nt_emb_layer_norm_before": False, "nt_mask_token_id": 2, "nt_pad_token_id": 1,
    "nt_position_embedding_type": "rotary", "nt_token_dropout": False, "nt_layer_norm_eps": 1e-5,
    "esm_vocab_size": 33, "esm_hidden_size": 24, "esm_num_hidden_layers": 2, "esm_num_attention_heads": 3,
    "esm_intermediate_size": 36, "esm_max_position_embeddings": 1026, "esm_add_bias_fnn": True,
    "esm_position_embedding_type": "rotary", "esm_pad_token_id": 1, "esm_mask_token_id": 32,
    "esm_token_dropout": True, "esm_emb_layer_norm_before": False,
    "num_heads_omics_cross_attention": 4, "num_tokens_per_seq_nuctf": 1024,
    "num_tokens_per_seq_nuctf_rna": 2048, "num_protein_tokens_per_seq": 1024,
    "pool_window_start": 1, "pool_window_end": 5,
    "_head_hidden": 20,
}


def public_config(c):
    return {k: v for k, v in c.items() if not k.startswith("_")}


def write_model_dir(model, cfg, outdir, rename=None):
    outdir.mkdir(parents=True, exist_ok=True)
    sd = model.state_dict()
    if rename:
        sd = {rename(k): v for k, v in sd.items()}
    save(outdir / "model.safetensors", sd, versions())
    with open(outdir / "config.json", "w") as f:
        json.dump(public_config(cfg), f, indent=2)
        f.write("\n")
    for v in ("dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"):
        shutil.copy(MODELS / v, outdir / v)


def tiny_case(gen, tok_rna, tok_prot):
    c = TINY
    torch.manual_seed(SEED)
    names = {"dna": "enformer", "rna": "nt_model", "protein": "esm_model"}
    model = Isoformer(c, names).eval()
    randomise(model, gen)
    bins = 10  # 10 bins -> crop to 6 (trim 2 each side); 10 * 2^3 = 80 bp
    seq_len = bins * 2 ** c["enformer_num_downsamples"]
    dnas = [random_dna(gen, seq_len, 0.05) for _ in range(3)]
    dnas[1] = dnas[1][:7] + "nnNN" + dnas[1][11:20].lower() + dnas[1][20:]
    rnas = ["ACGTTGCAAGGTCCATGANNACGTTACCGTA", random_dna(gen, 47, 0.0), "TTAGGCATCGANCCGTTAGCAAC"]
    prots = ["MKTAYIAKQRQISFVKSHFSRQ", "", "MEEPQSDP<mask>LSIEPLSQETFSDLWKLLPE"]
    rows_rna = [rna_ids(tok_rna, s) for s in rnas]
    rows_prot = [protein_ids(tok_prot, s) for s in prots]
    x = torch.stack([dna_onehot(s) for s in dnas])
    r = pad(rows_rna)
    p = pad(rows_prot)
    has_p = torch.tensor([len(s) > 0 for s in prots])
    rec = {"input.dna_onehot": x, "input.rna_ids": r.to(torch.int32), "input.protein_ids": p.to(torch.int32),
           "input.has_protein": has_p.to(torch.int32)}
    with torch.no_grad():
        enformer_record(model.dna(), x, rec)
        esm_record(model.rna(), r, rec, "nt")
        esm_record(model.protein(), p, rec, "esm")
        dna, rna, prot, fused, out = model(x, r, p, has_p, rec)
        rec["head.out"] = out
        assert torch.allclose(dna, rec["enformer.out"])
    meta = versions()
    meta.update({"dna": json.dumps(dnas), "rna": json.dumps(rnas), "protein": json.dumps(prots)})
    save(FIX / "tiny_forward.safetensors", rec, meta)

    # A bundled example model directory (random weights: NOT a trained model) and the same
    # model saved under other top-level prefixes, with Enformer's `_trunk.*` aliases present.
    write_model_dir(model, c, MODELS / "tiny")
    other = {"enformer.": "dna_encoder.", "nt_model.": "rna_encoder.lm.", "esm_model.": "protein_encoder."}

    def rename(k):
        for a, b in other.items():
            if k.startswith(a):
                return b + k[len(a):]
        return "omics_fusion." + k if k.startswith("cross_") else k
    write_model_dir(model, c, FIX / "tiny_renamed", rename)
    # a bundled example input for the model above
    ex = ROOT / "models" / "tiny" / "example.tsv"
    with open(ex, "w") as f:
        f.write("transcript_id\tdna\trna\tprotein\n")
        for i, (d, rr, pp) in enumerate(zip(dnas, rnas, prots)):
            f.write(f"tiny_tx{i + 1}\t{d}\t{rr}\t{pp}\n")
    print(f"wrote {ex.relative_to(ROOT)}")


# ---------------------------------------------------------------- official-width blocks
def wide_blocks(gen):
    """One block of each encoder at the official width (head dims 64/192, 48, 32)."""
    rec = {"seeded.check": seeded_values("check.weight", (3, 5))}
    with torch.no_grad():
        enf = Enformer.from_hparams(dim=1536, depth=1, heads=8, attn_dim_key=64, num_downsamples=7,
                                    dim_divisible_by=128, target_length=4, use_tf_gamma=False,
                                    output_heads=dict(), dropout_rate=0.0, attn_dropout=0.0, pos_dropout=0.0).eval()
        block = enf.transformer[0]
        seeded_init(block)
        n = 96
        x = torch.randn(1, n, 1536, generator=gen)
        rec["enformer_block.in"] = x
        rec["enformer_block.positions"] = enformer_pytorch.modeling_enformer.get_positional_embed(
            n, 192, x.device, use_tf_gamma=False)
        rec["enformer_block.out"] = block(x)
        # Positional features alone at the official length (1536 bins), where the gamma pdf's
        # large lgamma terms make float32 fragile: this is the trap REFERENCE.md warns about.
        pos = enformer_pytorch.modeling_enformer.get_positional_embed(1536, 192, x.device, use_tf_gamma=False)
        rec["enformer_positions_1536.rows"] = pos[::97].contiguous()

        for name, cfg, hidden, heads, inter, nt in (
                ("nt_block", None, 768, 16, 3072, True), ("esm_block", None, 640, 20, 2560, False)):
            c = dict(TINY)
            pre = "nt" if nt else "esm"
            c.update({f"{pre}_hidden_size": hidden, f"{pre}_num_attention_heads": heads,
                      f"{pre}_intermediate_size": inter, f"{pre}_num_hidden_layers": 1})
            m = make_nt(nt_config(c)) if nt else EsmForMaskedLM(esm_config(c))
            m = m.eval()
            seeded_init(m.esm)
            ids = torch.randint(4, 4100 if nt else 24, (2, 37), generator=gen)
            ids[1, 30:] = 1  # padding in the second row
            ids[:, 0] = 3 if nt else 0
            out = esm_forward(m, ids).last_hidden_state
            rec[f"{name}.ids"] = ids.to(torch.int32)
            rec[f"{name}.out"] = out
    save(FIX / "wide_blocks.safetensors", rec, versions())


# ---------------------------------------------------------------- tokenizer parity
def tokenizer_case(tok_rna, tok_prot, gen):
    """Ids transformers' EsmTokenizer gives on the official vocab files, on real sequences."""
    cases = {
        # human TP53 exon 2-3 region (spliced mRNA, DNA letters) and protein N-terminus
        "rna": [
            "GATGGGATTGGGGTTTTCCCCTCCCATGTGCTCAAGACTGGCGCTAAAAGTTTTGAGCTTCTCAAAAGTCTAGAGCCACCGTCCAGGGAGCAGGTAGCTGCTGGGCTCCGGGGACACTTTGCGTTCGGGCTGGGAGCGTGCTTTCCACGACGGTGACACGCTTCCCTGGATTGGCAGCCAGACTGCCTTCCGGGTCACTGCCATGGAGGAGCCGCAGTCAGATCCTAGCGTCGAGCCCCCTCTGAGTCAGGAAACATTTTCAGACCTATGGAAACTACTTCCTGAAAACAACGTTCTGTCCCCCTTGCCGTCCCAAGCAATGGATGATTTGATGCTGTCCCCGGACGATATTGAACAATGGTTCACTGAAGACCCAGGTCCAGATGAAGCTCCCAGAATGCCAGAGGCTGCTCCCCCCGTGGCCCCTGCACCAGCAGCTCCTACACCGGCGGCCCCTGCACCAGCCCCCTCCTGGCCCCTGTCATCTTCTGTCCCTTCCCAGAAAACCTACCAGGGCAGCTACGGTTTCCGTCTGGGCTTCTTGCATTCTGGGACAGCCAAGTCTGTGACTTGCACG",
            "ACGTNNACGTACGTAC", "acgtacgtnacgt", "A", "ACGTAC", "NNNN", "",
            random_dna(gen, 301, 0.03),
        ],
        "protein": [
            "MEEPQSDPSVEPPLSQETFSDLWKLLPENNVLSPLPSQAMDDLMLSPDDIEQWFTEDPGPDEAPRMPEAAPPVAPAPAAPTPAAPAPAPSWPLSSSVPSQKTYQGSYGFRLGFLHSGTAKSVTCTYSPALNKMFCQLAKTCPVQLWVDSTPPPGTRVRAMAIYKQSQHMTEVVRRCPHHERCSDSDGLAPPQHLIRVEGNLRVEYLDDRNTFRHSVVVPYEPPEVGSDCTTIHYNYMCNSSCMGGMNRRPILTIITLEDSSGNLLGRNSFEVRVCACPGRDRRTEEENLRKKGEPHHELPPGSTKRALPNNTSSSPQPKKKPLDGEYFTLQIRGRERFEMFRELNEALELKDAQAGKEPGGSRAHSSHLKSKKGQSTSRHKKLMFKTEGPDSD",
            "MKT<mask>AYIAKQR", "XBUZO", "", "M",
        ],
    }
    rec, meta = {}, versions()
    for kind, seqs in cases.items():
        for i, s in enumerate(seqs):
            # EsmTokenizer is case-sensitive (a lowercase run becomes one <unk>); isoformer reads
            # soft-masked (lowercase) bases as bases, so the reference is the upper-cased sequence.
            ids = rna_ids(tok_rna, s.upper()) if kind == "rna" else protein_ids(tok_prot, s)
            rec[f"{kind}.{i}"] = torch.tensor(ids, dtype=torch.int32)
        meta[kind] = json.dumps(seqs)
    save(FIX / "tokenizers.safetensors", rec, meta)


def main():
    gen = torch.Generator().manual_seed(SEED)
    tok_rna = EsmTokenizer(str(MODELS / "rna_vocab_list.txt"))
    tok_prot = EsmTokenizer(str(MODELS / "protein_vocab_list.txt"))
    tokenizer_case(tok_rna, tok_prot, gen)
    tiny_case(gen, tok_rna, tok_prot)
    wide_blocks(gen)
    with open(FIX / "VERSIONS.json", "w") as f:
        json.dump(versions(), f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
