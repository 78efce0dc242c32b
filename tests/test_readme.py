"""README.md says what the committed results give: its generated blocks equal what cips-report writes from them,
and a changed result changes them."""

import json
import re
import shutil
from pathlib import Path

import pytest

from cips.report.evidence import BLOCKS, blocks, read_block, refresh_readme, replace_block
from cips.report.inputs import load_inputs

REPO = Path(__file__).resolve().parents[1]


def small_inputs(root: Path):
    return load_inputs(REPO / "params.yaml", root, "small")


def test_the_readme_blocks_equal_what_the_committed_results_give():
    """The README's evidence and model blocks are `cips-report evidence` of the committed small scale (refresh
    them with `cips-report evidence --write`)."""
    text = (REPO / "README.md").read_text()
    made = blocks(small_inputs(REPO))
    for name in BLOCKS:
        assert read_block(text, name) == made[name], f"README.md's {name} block is stale: cips-report evidence --write"


def copy_results(root: Path) -> None:
    """The small scale's committed results that the blocks read (no generators): metrics, train records, the
    analyses' data, the recorded earlier verdicts."""
    (root / "configs").mkdir()
    shutil.copy(REPO / "configs/small.yaml", root / "configs/small.yaml")
    for path in (REPO / "runs/small").glob("*/*.json"):
        target = root / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    for path in [*(REPO / "reports/small/data").glob("*.npz"), REPO / "reports/small/earlier_verdicts.json"]:
        target = root / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    shutil.copy(REPO / "README.md", root / "README.md")


def test_a_changed_metrics_json_changes_the_evidence_block(tmp_path):
    copy_results(tmp_path)
    before = blocks(small_inputs(tmp_path))
    path = tmp_path / "runs/small/fashion-ne-long-s0/metrics.json"
    metrics = json.loads(path.read_text())
    metrics["fid"] = 140.0  # NE's first seed far worse: its mean moves, and so must the row
    path.write_text(json.dumps(metrics))
    after = blocks(small_inputs(tmp_path))
    assert after["evidence"] != before["evidence"] and after["models"] != before["models"]
    others = [json.loads((tmp_path / f"runs/small/fashion-ne-long-s{s}/metrics.json").read_text())["fid"]
              for s in (1, 2)]
    row = next(line for line in after["evidence"].splitlines() if line.startswith("| Table 3: no embeddings"))
    assert f"NE {(140.0 + sum(others)) / 3:.1f}," in row, row  # seeds 0-2: the changed one and the committed two
    written = refresh_readme(small_inputs(tmp_path), tmp_path / "README.md")
    assert read_block(written.read_text(), "evidence") == after["evidence"]


def test_replacing_a_block_keeps_the_rest_and_needs_its_markers():
    text = "intro\n<!-- evidence:begin (written by cips-report; do not edit) -->\nold\n<!-- evidence:end -->\ntail\n"
    new = replace_block(text, "evidence", "new\n")
    assert new == text.replace("old\n", "new\n") and read_block(new, "evidence") == "new\n"
    with pytest.raises(ValueError, match="README.md: no models markers"):
        replace_block(text, "models", "x\n")


def test_the_readme_is_short_and_leads_with_its_set_up():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 200, len(lines)
    setup = next(i for i, line in enumerate(lines) if line.startswith("## Set-up"))
    assert setup < 15 and "bash scripts/install.sh" in "\n".join(lines[setup: setup + 20])


# what a passage that tells how the project was built looks like (history lives in git log)
HISTORY = re.compile(r"\bsittings?\b|fixed since|\bso far\b|\bnow\b|the issue's|\b202\d-\d\d-\d\d\b|measured again|"
                     r"\bwe (?:fixed|retrained)\b|\bfor now\b|before the last", re.I)


def test_the_prose_says_what_is_not_how_it_came_about():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
             *sorted((REPO / "reports").glob("*/findings.md"))]
    found = [f"{p.relative_to(REPO)}:{i}: {m.group(0)!r}" for p in pages
             for i, line in enumerate(p.read_text().splitlines(), 1) if (m := HISTORY.search(line))]
    assert not found, "\n".join(found)


def test_the_readme_states_the_small_scales_budgets_as_configured():
    """The scale table's small row and the evidence section give the budgets and seed counts of configs/small.yaml."""
    import yaml

    config = yaml.safe_load((REPO / "configs/small.yaml").read_text())
    batch, base = config["train"]["batch"], config["train"]["steps"]
    seeds: dict[int, int] = {}
    for spec in config["runs"].values():
        steps = (spec.get("train") or {}).get("steps", base)
        seeds[steps] = max(seeds.get(steps, 0), len(spec.get("seeds", [0])))
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    text = (REPO / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| small |"))
    for steps, n in seeds.items():
        assert f"{steps:,} steps" in row or f"{steps:,} (" in row, (steps, row)
        assert f"{steps * batch // 1000}k images" in text or f"{steps * batch // 1000}k, {words[n]} seeds" in row, steps
        assert f"{words[n]} seeds" in row, (steps, n, row)


def slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_link_of_the_prose_resolves():
    """Each relative link of README, docs/ and the reports' pages names a file that exists, and its #anchor a
    heading of that file."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "reports").glob("*/*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and file.suffix == ".md":
                anchors = {slug(h) for h in re.findall(r"^#+ (.+)$", file.read_text(), re.M)}
                if anchor not in anchors:
                    broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
