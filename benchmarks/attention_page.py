"""The attention page at growing lengths: file size, stored threshold, build time and render time in
Debian's chromium, beside bertviz's head and model views of the same weights (when bertviz is installed).

    python benchmarks/attention_page.py [--model DIR] [--lengths 16 64 128 256 512]

For each length the same MiniLM weights go to both: bertkit's page (one self-contained file) and
bertviz's two views (each written as its own file; they load d3 and jQuery from a CDN, so they cannot
render offline, and only their sizes are compared). Render time is the page's own measurement
(window.bertkitRenderMs, script start to the end of the first full render) and the wall time of the
browser's load. Prints a table and the size ratio.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from bertkit import paths  # noqa: E402
from bertkit.registry import AutoModel  # noqa: E402
from bertkit.tokenization import AutoTokenizer  # noqa: E402
from bertkit.viz import attention_page  # noqa: E402
from bertkit.viz.attention import attention_maps  # noqa: E402

TEXT = ("The animal didn't cross the street because it was too tired, and the driver, who had waited "
        "patiently at the light, finally drove on towards the old bridge across the river. ")


def browser(profile: str):
    os.environ["SE_AVOID_STATS"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    drv.set_page_load_timeout(120)
    return drv


def bertviz_sizes(maps, folder: Path) -> tuple[int, int] | None:
    try:
        from bertviz import head_view, model_view
    except ImportError:
        return None
    attn = tuple(a[None] for a in maps.attentions)  # L × (1, H, T, T), as bertviz takes them
    sizes = []
    for name, view in (("head", head_view), ("model", model_view)):
        html = view(attn, maps.tokens, html_action="return").data
        (folder / f"bertviz-{name}.html").write_text(html, encoding="utf-8")
        sizes.append(len(html.encode("utf-8")))
    return tuple(sizes)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(paths.MINILM))
    p.add_argument("--lengths", type=int, nargs="+", default=[16, 64, 128, 256, 512])
    p.add_argument("--rounds", type=int, default=3, help="browser loads per length (the median is shown)")
    a = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    tok, model = AutoTokenizer.from_pretrained(a.model), AutoModel.from_pretrained(a.model, fresh=[])
    tmp = Path(tempfile.mkdtemp(prefix="bertkit-attn-bench-"))
    drv = browser(str(tmp / "profile"))
    print(f"{'tokens':>6} {'page MB':>8} {'min_weight':>10} {'build s':>8} {'render ms':>10} {'load s':>7} "
          f"{'bertviz head+model MB':>22} {'size ratio':>10}")
    try:
        for n in a.lengths:
            words = (TEXT * (1 + n // 20)).split()
            text = " ".join(words)
            maps = attention_maps(model, tok, text, max_length=n)
            start = time.perf_counter()
            page = attention_page(maps.attentions, maps.tokens)
            build = time.perf_counter() - start
            path = tmp / f"page-{n}.html"
            page.save(path)
            renders, loads = [], []
            for _ in range(a.rounds):
                start = time.perf_counter()
                drv.get(path.resolve().as_uri())
                loads.append(time.perf_counter() - start)
                renders.append(float(drv.execute_script("return window.bertkitRenderMs")))
            from bertkit.viz.page import page_attentions
            _, _, min_weight = page_attentions(page.html)
            size = path.stat().st_size
            theirs = bertviz_sizes(maps, tmp)
            their = f"{sum(theirs) / 1e6:22.2f}" if theirs else f"{'(not installed)':>22}"
            ratio = f"{sum(theirs) / size:9.1f}×" if theirs else f"{'':>10}"
            print(f"{len(maps.tokens):6d} {size / 1e6:8.2f} {min_weight:10.4f} {build:8.2f} "
                  f"{sorted(renders)[len(renders) // 2]:10.0f} {sorted(loads)[len(loads) // 2]:7.2f} {their} {ratio}")
    finally:
        drv.quit()


if __name__ == "__main__":
    main()
