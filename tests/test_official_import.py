"""Importing official CIPS checkpoints: same images from the same latents.

The reference below evaluates a state dict in the official layout the way the official code does
(NCHW tensors, per-sample modulated weights as a grouped 1x1 convolution), written from the paper's
formulas; a checkpoint in that layout is built here at a small size.
"""

import math
from argparse import Namespace

import pytest
import torch
import torch.nn.functional as F

from cips.models.checkpoint import UnsafeCheckpointError, load_checkpoint, load_generator
from cips.models.official import convert_state_dict, import_official

STYLE, HIDDEN, SIZE, N_MLP = 16, 24, 8, 3


def _styled_conv(sd, prefix, cin, cout, sine=False):
    sd[f"{prefix}.conv.weight"] = torch.randn(1, cout, cin, 1, 1)
    sd[f"{prefix}.conv.modulation.weight"] = torch.randn(cin, STYLE)
    sd[f"{prefix}.conv.modulation.bias"] = 1 + 0.1 * torch.randn(cin)
    sd[f"{prefix}.noise.weight"] = torch.randn(1)
    if sine:
        sd[f"{prefix}.bias"] = torch.randn(1, cout, 1, 1)
    else:
        sd[f"{prefix}.activate.bias"] = torch.randn(cout)


def _to_rgb(sd, prefix, cin):
    sd[f"{prefix}.conv.weight"] = torch.randn(1, 3, cin, 1, 1)
    sd[f"{prefix}.conv.modulation.weight"] = torch.randn(cin, STYLE)
    sd[f"{prefix}.conv.modulation.bias"] = 1 + 0.1 * torch.randn(cin)
    sd[f"{prefix}.bias"] = torch.randn(1, 3, 1, 1)


def official_state_dict(kind: str, channels=(32, 32, 16), sine=False) -> dict:
    torch.manual_seed(0)
    sd = {}
    for k in range(N_MLP):
        sd[f"style.{k + 1}.weight"] = torch.randn(STYLE, STYLE) * 100  # stored / lr_mul
        sd[f"style.{k + 1}.bias"] = torch.randn(STYLE)
    sd["lff.ffm.conv.weight"] = torch.rand(HIDDEN, 2, 1, 1) * 4 - 2
    sd["lff.ffm.conv.bias"] = torch.rand(HIDDEN) - 0.5
    sd["emb.input"] = torch.randn(1, HIDDEN, SIZE, SIZE)
    if kind == "skip":
        _styled_conv(sd, "conv1", 2 * HIDDEN, channels[0], sine)
        cin = channels[0]
        for i, c in enumerate(channels):
            _styled_conv(sd, f"linears.{2 * i}", cin, c, sine)
            _styled_conv(sd, f"linears.{2 * i + 1}", c, c, sine)
            _to_rgb(sd, f"to_rgbs.{i}", c)
            cin = c
    else:
        _styled_conv(sd, "linears.0", 2 * HIDDEN, channels[0], sine)
        cin = channels[0]
        for i, c in enumerate(channels):
            _styled_conv(sd, f"linears.{i + 1}.conv1", cin, c, sine)
            _styled_conv(sd, f"linears.{i + 1}.conv2", c, c, sine)
            if c != cin:
                sd[f"linears.{i + 1}.skip.0.weight"] = torch.randn(c, cin, 1, 1)
            cin = c
        _to_rgb(sd, "to_rgb_last", cin)
    return sd


def _modconv(x, sd, prefix, style, demodulate=True):
    b, cin, h, w = x.shape
    weight = sd[f"{prefix}.conv.weight"]  # (1, O, I, 1, 1)
    mod_w = sd[f"{prefix}.conv.modulation.weight"]
    s = F.linear(style, mod_w / math.sqrt(mod_w.shape[1]), sd[f"{prefix}.conv.modulation.bias"])
    wt = weight / math.sqrt(cin) * s.view(b, 1, cin, 1, 1)
    if demodulate:
        wt = wt * torch.rsqrt(wt.pow(2).sum([2, 3, 4], keepdim=True) + 1e-8)
    out = F.conv2d(x.reshape(1, b * cin, h, w), wt.reshape(-1, cin, 1, 1), groups=b)
    return out.view(b, -1, h, w)


def _styled(x, sd, prefix, style, noise):
    """The official StyledConv: modulated 1x1 conv, + noise.weight * noise, then bias and activation."""
    out = _modconv(x, sd, prefix, style) + sd[f"{prefix}.noise.weight"] * noise.pop(0)
    if f"{prefix}.bias" in sd:
        return torch.sin(out + sd[f"{prefix}.bias"])
    return F.leaky_relu(out + sd[f"{prefix}.activate.bias"].view(1, -1, 1, 1), 0.2) * math.sqrt(2)


def official_forward(sd, kind, z, noise, training=False):
    """The official CIPSskip/CIPSres forward on the full 8x8 grid. `noise` lists one (B, 1, H, W) map per
    styled layer in execution order. In eval mode (training=False) the embeddings are read with
    grid_sample(align_corners=False), as the official code does; in training mode the table itself."""
    noise = list(noise)
    w = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
    for k in range(N_MLP):
        wt, bias = sd[f"style.{k + 1}.weight"], sd[f"style.{k + 1}.bias"]
        w = F.leaky_relu(F.linear(w, wt * 0.01 / math.sqrt(STYLE)) + bias * 0.01, 0.2) * math.sqrt(2)
    b = z.shape[0]
    lin = torch.linspace(-1, 1, SIZE)
    coords = torch.stack([lin.view(1, SIZE).expand(SIZE, SIZE), lin.view(SIZE, 1).expand(SIZE, SIZE)])
    coords = coords.unsqueeze(0).expand(b, -1, -1, -1)
    x = torch.sin(F.conv2d(coords, sd["lff.ffm.conv.weight"], sd["lff.ffm.conv.bias"]))
    table = sd["emb.input"].expand(b, -1, -1, -1)
    if training:
        emb = table
    else:
        emb = F.grid_sample(table, coords.permute(0, 2, 3, 1), padding_mode="border", mode="bilinear",
                            align_corners=False)
    x = torch.cat([x, emb], 1)
    if kind == "skip":
        x = _styled(x, sd, "conv1", w, noise)
        rgb = 0
        n = sum(1 for k in sd if k.startswith("to_rgbs.") and k.endswith(".conv.weight"))
        for i in range(n):
            x = _styled(_styled(x, sd, f"linears.{2 * i}", w, noise), sd, f"linears.{2 * i + 1}", w, noise)
            rgb = rgb + _modconv(x, sd, f"to_rgbs.{i}", w, demodulate=False) + sd[f"to_rgbs.{i}.bias"]
        return rgb
    x = _styled(x, sd, "linears.0", w, noise)
    n = sum(1 for k in sd if k.endswith(".conv1.conv.weight"))
    for i in range(1, n + 1):
        out = _styled(_styled(x, sd, f"linears.{i}.conv1", w, noise), sd, f"linears.{i}.conv2", w, noise)
        skip = x
        if f"linears.{i}.skip.0.weight" in sd:
            wt = sd[f"linears.{i}.skip.0.weight"]
            skip = F.conv2d(x, wt / math.sqrt(wt.shape[1]))
        x = (out + skip) / math.sqrt(2)
    return _modconv(x, sd, "to_rgb_last", w, demodulate=False) + sd["to_rgb_last.bias"]


def _noise_maps(n_layers: int, b: int, seed: int) -> list[torch.Tensor]:
    """The per-pixel noise our generator draws from `seed` (one (B, N, 1) draw per layer), as NCHW maps."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(b, SIZE * SIZE, 1, generator=gen).transpose(1, 2).reshape(b, 1, SIZE, SIZE)
            for _ in range(n_layers)]


@pytest.mark.parametrize("kind,sine", [("skip", False), ("res", False), ("skip", True)])
def test_imported_generator_reproduces_official_images(kind, sine, tmp_path):
    """Official eval path (grid_sample embeddings), noise on: the imported checkpoint renders the same images;
    with --embedding-sampling exact it renders the official training path (the stored table)."""
    sd = official_state_dict(kind, sine=sine)
    path = tmp_path / "official.pt"
    torch.save({"g_ema": sd, "g": sd, "d": {}, "args": Namespace(size=SIZE)}, path)
    cfg = import_official(path, tmp_path / "ours.pt")
    assert cfg.skips == (kind == "skip") and cfg.residual == (kind == "res")
    assert cfg.activation == ("sine" if sine else "lrelu")
    assert cfg.channels == [32, 32, 16]
    assert cfg.embedding_sampling == "official"
    z = torch.randn(4, STYLE, generator=torch.Generator().manual_seed(1))
    for sampling, training in (("official", False), ("exact", True)):
        g = load_generator(tmp_path / "ours.pt", embedding_sampling=sampling)
        assert all(layer.noise_strength is not None and layer.noise_strength != 0 for layer in g.layers)
        with torch.no_grad():
            ours = g(z, noise_generator=torch.Generator().manual_seed(7))
            ref = official_forward(sd, kind, z, _noise_maps(len(g.layers), 4, 7), training=training)
        assert ours.shape == ref.shape == (4, 3, SIZE, SIZE)
        assert (ours - ref).abs().max() < 1e-4, sampling
    # the two paths differ (half-pixel blur of the embeddings), except at the corners of the grid
    official = load_generator(tmp_path / "ours.pt")(z, noise_mode="zero")
    exact = load_generator(tmp_path / "ours.pt", embedding_sampling="exact")(z, noise_mode="zero")
    assert (official - exact).abs().max() > 1e-2


def test_unsafe_pickle_is_refused_and_runs_nothing(tmp_path):
    """A checkpoint is data: a pickle that would run code when loaded is refused with one line."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "evil.pt"
    sd = official_state_dict("skip")
    torch.save({"g_ema": sd, "payload": Payload()}, bad)
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pt: refused to load"):
        import_official(bad, tmp_path / "out.pt")
    for loader in (load_checkpoint, load_generator):
        with pytest.raises(UnsafeCheckpointError):
            loader(bad)
    assert not marker.exists()


def test_non_official_state_dict_is_refused():
    with pytest.raises(ValueError, match="not an official CIPS generator"):
        convert_state_dict({"foo": torch.zeros(1)})
