"""The attention page in a real browser: Debian's chromium, driven by Selenium through its chromedriver.

It loads with no console errors, shows 6 × 12 thumbnails for all-MiniLM-L6-v2, a click on a thumbnail
opens that head, hovering a token highlights its row (data attribute and canvas pixels change), a
screenshot is non-blank, and a 512-token page renders in under 3 s from a file under 5 MB. Skips, saying
why, only when chromium, chromedriver or selenium are absent (`make setup` installs them)."""
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from bertkit.viz import attention_page, page_attentions

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SENTENCE = "The cat sat on the mat because it was tired."


def _need_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.exists(p) and os.access(p, os.X_OK))]
    if missing:
        pytest.skip(f"no browser for the page test: {', '.join(missing)} absent; install Debian's chromium and "
                    "chromium-driver (`make setup` does)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed; `pip install -e .[dev]` (or `make setup`) installs it")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    _need_browser()
    os.environ["SE_AVOID_STATS"] = "true"  # Selenium Manager sends no usage statistics
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    from bertkit.registry import AutoModel
    from bertkit.tokenization import AutoTokenizer
    return AutoModel.from_pretrained(minilm_dir).eval(), AutoTokenizer.from_pretrained(minilm_dir)


def minilm_page(minilm, text, **enc_args):
    model, tok = minilm
    enc = tok(text, return_tensors="pt", **enc_args)
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    tokens = tok.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    return out, tokens, attention_page(out, tokens)


def open_page(driver, page, path: Path) -> float:
    page.save(path)
    driver.get_log("browser")  # drop what earlier pages logged
    start = time.perf_counter()
    driver.get(path.resolve().as_uri())
    wall = time.perf_counter() - start
    assert driver.execute_script("return document.documentElement.getAttribute('data-bertkit-ready')") == "1"
    return wall


def severe(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def texts(driver, selector):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent);", selector)


def canvas_pixels(driver, css_id):
    """A hash of the canvas's pixels (FNV-1a over the RGBA bytes) and the count of painted pixels."""
    return driver.execute_script(
        "var c = document.getElementById(arguments[0]);"
        "var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, h = 2166136261, n = 0;"
        "for (var i = 0; i < d.length; i++) { h = Math.imul(h ^ d[i], 16777619) >>> 0; }"
        "for (var j = 3; j < d.length; j += 4) if (d[j]) n++;"
        "return [h, n];", css_id)


def distinct_colours(png: bytes) -> tuple[int, float]:
    """The number of distinct colours in a PNG and the share of pure-white pixels."""
    from PIL import Image
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colours = np.unique(img.astype(np.int64) @ np.array([1 << 16, 1 << 8, 1]))
    white = float((img == 255).all(axis=1).mean())
    return len(colours), white


def test_minilm_page_in_chromium(driver, minilm, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    out, tokens, page = minilm_page(minilm, SENTENCE)
    T = len(tokens)
    # the page's data is bertkit's outputs.attentions (within 1e-4)
    _, weights, min_weight = page_attentions(page.html)
    assert min_weight == 0
    assert np.abs(weights - torch.stack([a[0] for a in out.attentions]).numpy()).max() <= 1e-4

    open_page(driver, page, tmp_path / "attention.html")
    assert severe(driver) == []
    thumbs = driver.execute_script(
        "return Array.from(document.querySelectorAll('#bk-model-view .bk-thumb'), "
        "t => [t.tagName, t.dataset.layer, t.dataset.head, t.getBoundingClientRect().width > 20])")
    assert len(thumbs) == 6 * 12
    assert sorted(thumbs) == sorted(["CANVAS", str(l), str(h), True] for l in range(6) for h in range(12))
    assert texts(driver, '.bk-tok[data-side="q"]') == tokens
    assert texts(driver, '.bk-tok[data-side="k"]') == tokens
    assert driver.execute_script("return window.bertkitRenderMs") < 3000

    # click layer 3, head 7: the head view, both selectors and the selected thumbnail follow
    head_view = driver.find_element(By.ID, "bk-head-view")
    before = canvas_pixels(driver, "bk-head-canvas")
    driver.find_element(By.CSS_SELECTOR, '.bk-thumb[data-layer="3"][data-head="7"]').click()
    assert (head_view.get_attribute("data-layer"), head_view.get_attribute("data-head")) == ("3", "7")
    assert Select(driver.find_element(By.ID, "bk-layer")).first_selected_option.get_attribute("value") == "3"
    assert Select(driver.find_element(By.ID, "bk-head")).first_selected_option.get_attribute("value") == "7"
    selected = driver.find_elements(By.CSS_SELECTOR, ".bk-thumb.bk-selected")
    assert [(s.get_attribute("data-layer"), s.get_attribute("data-head")) for s in selected] == [("3", "7")]
    assert "layer 3, head 7" in driver.find_element(By.ID, "bk-head-title").text
    opened = canvas_pixels(driver, "bk-head-canvas")
    assert opened != before and opened[1] > 1000  # layer 3 head 7 draws other lines than layer 0 head 0

    # hover query token 2 ("cat"): its row is highlighted, only its lines are drawn
    assert head_view.get_attribute("data-highlight") == ""
    tok = driver.find_element(By.CSS_SELECTOR, '.bk-tok[data-side="q"][data-index="2"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", tok)
    ActionChains(driver).move_to_element(tok).perform()
    assert head_view.get_attribute("data-highlight") == "2"
    assert "bk-active" in tok.get_attribute("class").split()
    assert len(driver.find_elements(By.CSS_SELECTOR, ".bk-tok.bk-active")) == 1
    hovered = canvas_pixels(driver, "bk-head-canvas")
    assert hovered != opened and 0 < hovered[1] < opened[1]  # one row's lines instead of all
    assert driver.find_element(By.ID, "bk-readout").text.startswith(f"query 2 “{tokens[2]}” attends most to: “")
    assert driver.find_element(By.ID, "bk-heat-mark").is_displayed()  # the row framed on the heatmap
    other = driver.find_element(By.CSS_SELECTOR, '.bk-tok[data-side="q"][data-index="5"]')
    ActionChains(driver).move_to_element(other).perform()
    assert head_view.get_attribute("data-highlight") == "5"
    assert canvas_pixels(driver, "bk-head-canvas") != hovered

    # leaving the tokens clears the highlight
    ActionChains(driver).move_to_element(driver.find_element(By.ID, "bk-head-title")).perform()
    assert head_view.get_attribute("data-highlight") == ""
    assert driver.find_elements(By.CSS_SELECTOR, ".bk-tok.bk-active") == []

    # the selectors drive the head view too
    Select(driver.find_element(By.ID, "bk-layer")).select_by_value("5")
    assert head_view.get_attribute("data-layer") == "5"
    # the threshold slider hides the weaker links
    all_links = canvas_pixels(driver, "bk-head-canvas")[1]
    driver.execute_script("var s = document.getElementById('bk-threshold'); s.value = '0.3';"
                          "s.dispatchEvent(new Event('input'));")
    assert head_view.get_attribute("data-threshold") == "0.3"
    assert driver.find_element(By.ID, "bk-threshold-value").text == "0.3"
    assert canvas_pixels(driver, "bk-head-canvas")[1] < all_links
    assert severe(driver) == []

    shot = tmp_path / "attention.png"
    assert driver.save_screenshot(str(shot))
    colours, white = distinct_colours(shot.read_bytes())
    assert colours > 200 and white < 0.97, (colours, white)
    assert T == 13


def test_hostile_tokens_show_as_text(driver, tmp_path):
    from selenium.webdriver.common.by import By

    tokens = ["[CLS]", "</script>", "<img src=x onerror=alert(1)>", "<!--", "&amp;", "[SEP]"]
    T = len(tokens)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, T, T))
    w = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    open_page(driver, attention_page(w, tokens), tmp_path / "hostile.html")
    assert severe(driver) == []
    assert len(driver.find_elements(By.CSS_SELECTOR, ".bk-thumb")) == 4
    assert texts(driver, '.bk-tok[data-side="k"]') == tokens
    assert driver.find_elements(By.CSS_SELECTOR, "#bk-app img") == []


def test_jupyter_iframe_runs_the_page(driver, tmp_path):
    """_repr_html_ (what Jupyter shows) is an iframe whose srcdoc is the page; its script runs there."""
    from selenium.webdriver.common.by import By

    T = 5
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, T, T))
    page = attention_page(np.exp(x) / np.exp(x).sum(-1, keepdims=True), ["a", "</script>", "<b>", "d", "e"])
    host = tmp_path / "notebook.html"
    host.write_text(f"<!DOCTYPE html><html><body><h1>notebook</h1>{page._repr_html_()}</body></html>", encoding="utf-8")
    driver.get_log("browser")
    driver.get(host.as_uri())
    try:
        driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
        assert driver.execute_script("return document.documentElement.getAttribute('data-bertkit-ready')") == "1"
        assert len(driver.find_elements(By.CSS_SELECTOR, ".bk-thumb")) == 6
        assert texts(driver, '.bk-tok[data-side="q"]') == ["a", "</script>", "<b>", "d", "e"]
    finally:
        driver.switch_to.default_content()
    assert severe(driver) == []


@pytest.mark.slow
def test_512_tokens_render_under_3s(driver, minilm, tmp_path):
    from selenium.webdriver.common.by import By

    out, tokens, page = minilm_page(minilm, " ".join([SENTENCE] * 60), truncation=True, max_length=512)
    assert len(tokens) == 512
    path = tmp_path / "attention-512.html"
    page.save(path)
    assert path.stat().st_size < 5_000_000
    _, weights, min_weight = page_attentions(page.html)
    ref = torch.stack([a[0] for a in out.attentions]).numpy()
    stored = weights > 0
    assert np.abs(weights[stored] - ref[stored]).max() <= 1e-4 and (ref[~stored] < max(min_weight, 1e-4)).all()

    wall = open_page(driver, page, path)
    render_ms = driver.execute_script("return window.bertkitRenderMs")
    assert render_ms < 3000 and wall < 3.0, (render_ms, wall)
    assert severe(driver) == []
    assert len(driver.find_elements(By.CSS_SELECTOR, ".bk-thumb")) == 72
    assert len(driver.find_elements(By.CSS_SELECTOR, '.bk-tok[data-side="q"]')) == 512
    shot = tmp_path / "attention-512.png"
    driver.save_screenshot(str(shot))
    colours, white = distinct_colours(shot.read_bytes())
    assert colours > 50 and white < 0.99, (colours, white)


def test_skip_reason_names_what_is_missing(monkeypatch):
    real_exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda p: p != CHROMEDRIVER and real_exists(p))
    with pytest.raises(pytest.skip.Exception) as info:
        _need_browser()
    assert CHROMEDRIVER in str(info.value) and "chromium-driver" in str(info.value)
