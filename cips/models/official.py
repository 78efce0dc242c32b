"""Import generators saved by the official CIPS training code (saic-mdal/CIPS, MIT licence).

Its checkpoints are dicts with state dicts under ``g_ema`` (and ``g``, ``d``, optimizers, ``args``).
Two generator classes exist: CIPSskip (RGB projections every two layers) and CIPSres (residual blocks,
one RGB layer at the end). Their layout maps one to one onto ours:

    official                                   ours
    style.{k+1}.weight/bias                    mapping.layers.{k}.weight/bias
    lff.ffm.conv.weight (C, 2, 1, 1), bias     fourier.weight (C, 2), bias
    emb.input (1, C, H, W)                     embeddings.weight (H, W, C)
    conv1 / linears.* StyledConv:              layers.{i}:
      conv.weight (1, O, I, 1, 1)                fc.weight (O, I)
      conv.modulation.weight/bias                fc.modulation.weight/bias
      noise.weight (1,)                          noise_strength ()
      activate.bias (O,) | bias (1, O, 1, 1)     bias (O,)
    to_rgbs.{k} / to_rgb_last ToRGB             to_rgbs.{layer index}
    StyledResBlock.skip.0.weight (O, I, 1, 1)  shortcuts.{first layer of the block}.weight (O, I)

The official code narrows the channels of its last blocks (a channel multiplier); we carry the
per-block widths in `channels`. In eval mode the official generator samples its coordinate
embeddings with grid_sample(align_corners=False), even on the training grid: an imported generator
records `embedding_sampling: official` so it renders the same images (`--embedding-sampling exact`
on `cips sample` / `cips evaluate` reads the stored vectors instead).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from cips.config import ModelConfig, to_dict
from cips.models.checkpoint import FORMAT, torch_load_data


def _styled(src: dict, prefix: str, dst: dict, name: str) -> int:
    """Copy one official StyledConv into our StyledLayer `name`; returns its output width."""
    w = src[f"{prefix}.conv.weight"]
    dst[f"{name}.fc.weight"] = w.reshape(w.shape[1], w.shape[2])
    dst[f"{name}.fc.modulation.weight"] = src[f"{prefix}.conv.modulation.weight"]
    dst[f"{name}.fc.modulation.bias"] = src[f"{prefix}.conv.modulation.bias"]
    if f"{prefix}.noise.weight" in src:
        dst[f"{name}.noise_strength"] = src[f"{prefix}.noise.weight"].reshape(())
    bias = src.get(f"{prefix}.activate.bias", src.get(f"{prefix}.bias"))
    dst[f"{name}.bias"] = bias.reshape(-1)
    return w.shape[1]


def _to_rgb(src: dict, prefix: str, dst: dict, name: str) -> None:
    w = src[f"{prefix}.conv.weight"]
    dst[f"{name}.fc.weight"] = w.reshape(w.shape[1], w.shape[2])
    dst[f"{name}.fc.modulation.weight"] = src[f"{prefix}.conv.modulation.weight"]
    dst[f"{name}.fc.modulation.bias"] = src[f"{prefix}.conv.modulation.bias"]
    dst[f"{name}.bias"] = src[f"{prefix}.bias"].reshape(-1)


def convert_state_dict(src: dict[str, torch.Tensor]) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """An official CIPSskip/CIPSres generator state dict -> (our ModelConfig, our state dict)."""
    src = {k.removeprefix("module."): v for k, v in src.items()}
    if "lff.ffm.conv.weight" not in src or "emb.input" not in src:
        raise ValueError("not an official CIPS generator state dict (no lff.ffm.conv.weight / emb.input)")
    residual = "to_rgb_last.conv.weight" in src
    dst: dict[str, torch.Tensor] = {}

    mapping = sorted({int(m.group(1)) for k in src if (m := re.match(r"style\.(\d+)\.weight$", k))})
    for k, idx in enumerate(mapping):
        dst[f"mapping.layers.{k}.weight"] = src[f"style.{idx}.weight"]
        dst[f"mapping.layers.{k}.bias"] = src[f"style.{idx}.bias"]
    style_dim = src[f"style.{mapping[0]}.weight"].shape[0]

    ff = src["lff.ffm.conv.weight"]
    hidden = ff.shape[0]
    dst["fourier.weight"] = ff.reshape(hidden, ff.shape[1])
    dst["fourier.bias"] = src["lff.ffm.conv.bias"]
    emb = src["emb.input"]
    size = emb.shape[-1]
    dst["embeddings.weight"] = emb[0].permute(1, 2, 0).contiguous()
    sine = any(re.match(r"(conv1|linears\.\d+)(\.conv[12])?\.bias$", k) for k in src)

    channels: list[int] = []
    if not residual:  # CIPSskip: conv1, then linears in pairs, an RGB projection after each pair
        channels.append(_styled(src, "conv1", dst, "layers.0"))
        n = len({int(m.group(1)) for k in src if (m := re.match(r"linears\.(\d+)\.", k))})
        for j in range(n):
            width = _styled(src, f"linears.{j}", dst, f"layers.{j + 1}")
            if j % 2 == 1:
                _to_rgb(src, f"to_rgbs.{j // 2}", dst, f"to_rgbs.{j + 1}")
                channels.append(width)
        channels = channels[1:]
        depth = 1 + n
    else:  # CIPSres: linears.0 is the first layer, then StyledResBlocks (conv1, conv2, optional skip)
        _styled(src, "linears.0", dst, "layers.0")
        blocks = sorted({int(m.group(1)) for k in src if (m := re.match(r"linears\.(\d+)\.conv1\.", k))})
        for b, idx in enumerate(blocks):
            first = 2 * b + 1
            _styled(src, f"linears.{idx}.conv1", dst, f"layers.{first}")
            channels.append(_styled(src, f"linears.{idx}.conv2", dst, f"layers.{first + 1}"))
            if f"linears.{idx}.skip.0.weight" in src:
                w = src[f"linears.{idx}.skip.0.weight"]
                dst[f"shortcuts.{first}.weight"] = w.reshape(w.shape[0], w.shape[1])
        _to_rgb(src, "to_rgb_last", dst, f"to_rgbs.{2 * len(blocks)}")
        depth = 2 * len(blocks) + 1
    noise = any(k.endswith("noise.weight") for k in src)
    cfg = ModelConfig(arch="cips", size=size, width=hidden, depth=depth, style_dim=style_dim, n_mlp=len(mapping),
                      fourier=True, embeddings=True, residual=residual, skips=not residual,
                      activation="sine" if sine else "lrelu", noise=noise, embedding_sampling="official",
                      channels=None if all(c == hidden for c in channels) else channels)
    return cfg, dst


def import_official(path: str | Path, out: str | Path) -> ModelConfig:
    """Convert an official checkpoint file into ours (EMA generator, and the raw one when present)."""
    from cips.models import build_generator
    from cips.models.checkpoint import save_atomic

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    ckpt = torch_load_data(path)
    if not isinstance(ckpt, dict) or not ({"g_ema", "g"} & set(ckpt)):
        raise ValueError(f"{path}: expected an official CIPS checkpoint with a 'g_ema' or 'g' state dict")
    cfg, g_ema = convert_state_dict(ckpt.get("g_ema") or ckpt["g"])
    build_generator(cfg).load_state_dict(g_ema)  # strict: every tensor must find its place
    result = {"format": FORMAT, "model": to_dict(cfg), "g_ema": g_ema, "source": f"official:{path.name}"}
    if "g" in ckpt and "g_ema" in ckpt:
        result["g"] = convert_state_dict(ckpt["g"])[1]
    save_atomic(result, out)
    return cfg
