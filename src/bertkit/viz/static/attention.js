/* bertkit attention page: model view, head view and heatmap over the JSON in #bertkit-attention.
   Self-contained (no network). Tokens are only ever shown through textContent. */
(function () {
  "use strict";
  var t0 = performance.now();
  var data = JSON.parse(document.getElementById("bertkit-attention").textContent);
  var tokens = data.tokens, L = data.layers, H = data.heads, T = tokens.length;
  var minWeight = data.min_weight || 0;

  /* rows[l][h][q] = {k: Int32Array, w: Float32Array}: the stored keys of query q and their weights */
  var rows = [];
  (function normalise() {
    for (var l = 0; l < L; l++) {
      var layer = [];
      for (var h = 0; h < H; h++) {
        var src = data.attentions[l][h], head = new Array(T);
        for (var q = 0; q < T; q++) {
          var r = src[q], k, w;
          if (Array.isArray(r)) {
            var n = 0, i;
            for (i = 0; i < r.length; i++) if (r[i] > 0) n++;
            k = new Int32Array(n); w = new Float32Array(n); n = 0;
            for (i = 0; i < r.length; i++) if (r[i] > 0) { k[n] = i; w[n] = r[i]; n++; }
          } else {
            k = Int32Array.from(r.k); w = Float32Array.from(r.w);
          }
          head[q] = {k: k, w: w};
        }
        layer.push(head);
      }
      rows.push(layer);
    }
    data.attentions = null;
  })();

  /* colour scale: white to deep blue over sqrt(weight), so weak but real links still show */
  var STOPS = [[0, [255, 255, 255]], [0.25, [198, 219, 239]], [0.5, [107, 174, 214]],
               [0.75, [33, 113, 181]], [1, [8, 48, 107]]];
  var LUT = new Uint8ClampedArray(256 * 3);
  (function () {
    for (var i = 0; i < 256; i++) {
      var x = i / 255, s = 1;
      while (s < STOPS.length - 1 && STOPS[s][0] < x) s++;
      var a = STOPS[s - 1], b = STOPS[s], f = (x - a[0]) / (b[0] - a[0]);
      for (var c = 0; c < 3; c++) LUT[i * 3 + c] = Math.round(a[1][c] + f * (b[1][c] - a[1][c]));
    }
  })();
  /* two colour scales: sqrt for short inputs, log (0.001 to 1) where weights spread thin over many keys */
  var scale = T > 64 ? "log" : "sqrt";
  function level(w) {
    if (!(w > 0)) return 0;
    var x = scale === "log" ? (Math.log(w) / Math.LN10 + 3) / 3 : Math.sqrt(w);
    return Math.max(1, Math.min(255, Math.round(x * 255)));
  }
  function headHue(h) { return Math.round((h * 360 / Math.max(1, H)) + 210) % 360; }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(w) { return (Math.round(w * 10000) / 10000).toString(); }

  /* draw head (l, h) onto a canvas of n × n pixels: each pixel takes the largest weight of its cells */
  function paintMatrix(canvas, l, h, n) {
    canvas.width = n; canvas.height = n;
    var cells = new Float32Array(n * n), head = rows[l][h];
    for (var q = 0; q < T; q++) {
      var y0 = Math.floor(q * n / T), y1 = Math.max(y0 + 1, Math.floor((q + 1) * n / T));
      var r = head[q];
      for (var i = 0; i < r.k.length; i++) {
        var key = r.k[i], w = r.w[i];
        var x0 = Math.floor(key * n / T), x1 = Math.max(x0 + 1, Math.floor((key + 1) * n / T));
        for (var y = y0; y < y1; y++) for (var x = x0; x < x1; x++) {
          var p = y * n + x;
          if (w > cells[p]) cells[p] = w;
        }
      }
    }
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n), px = img.data;
    for (var j = 0; j < n * n; j++) {
      var v = level(cells[j]) * 3;
      px[j * 4] = LUT[v]; px[j * 4 + 1] = LUT[v + 1]; px[j * 4 + 2] = LUT[v + 2]; px[j * 4 + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  var state = {layer: 0, head: 0, threshold: Math.max(minWeight, T > 64 ? 0.05 : 0.02),
               highlight: -1, highlightKey: -1, pinned: null};

  /* ---------- page skeleton ---------- */
  var app = document.getElementById("bk-app");
  var info = document.getElementById("bk-info");
  if (!info.textContent) info.textContent = T + " tokens · " + L + " layers × " + H + " heads · " +
    (minWeight > 0 ? "weights below " + fmt(minWeight) + " are not stored (the page keeps its size down)"
                   : "every weight stored, rounded to 4 decimals");

  var controls = el("div", {"class": "bk-controls", id: "bk-controls"});
  function labelled(text, control) {
    var lab = el("label", {"class": "bk-control"});
    lab.appendChild(el("span", null, text)); lab.appendChild(control); return lab;
  }
  var layerSel = el("select", {id: "bk-layer"}), headSel = el("select", {id: "bk-head"});
  for (var l = 0; l < L; l++) layerSel.appendChild(el("option", {value: String(l)}, "Layer " + l));
  for (var h = 0; h < H; h++) headSel.appendChild(el("option", {value: String(h)}, "Head " + h));
  var thr = el("input", {id: "bk-threshold", type: "range", min: "0", max: "1", step: "0.005"});
  thr.value = String(state.threshold);
  var thrVal = el("span", {id: "bk-threshold-value", "class": "bk-mono"});
  controls.appendChild(labelled("Layer", layerSel));
  controls.appendChild(labelled("Head", headSel));
  var thrLab = labelled("Hide links below", thr); thrLab.appendChild(thrVal);
  controls.appendChild(thrLab);
  var scaleSel = el("select", {id: "bk-scale"});
  scaleSel.appendChild(el("option", {value: "sqrt"}, "√weight"));
  scaleSel.appendChild(el("option", {value: "log"}, "log weight"));
  scaleSel.value = scale;
  var legend = el("div", {"class": "bk-legend"});
  var legendLo = el("span", {"class": "bk-mono"});
  var legendBar = el("canvas", {"class": "bk-legend-bar", width: "160", height: "10"});
  legend.appendChild(legendLo);
  legend.appendChild(legendBar);
  legend.appendChild(el("span", {"class": "bk-mono"}, "1"));
  var scaleLab = labelled("Colour", scaleSel); scaleLab.appendChild(legend);
  controls.appendChild(scaleLab);
  (function () {
    var ctx = legendBar.getContext("2d"), img = ctx.createImageData(160, 10);
    for (var x = 0; x < 160; x++) for (var y = 0; y < 10; y++) {
      var v = Math.round(x / 159 * 255) * 3, p = (y * 160 + x) * 4;
      img.data[p] = LUT[v]; img.data[p + 1] = LUT[v + 1]; img.data[p + 2] = LUT[v + 2]; img.data[p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  })();

  /* head view + heatmap */
  var headSection = el("section", {"class": "bk-section", id: "bk-head-section"});
  var headTitle = el("h2", {id: "bk-head-title"});
  headSection.appendChild(headTitle);
  headSection.appendChild(controls);
  headSection.appendChild(el("p", {"class": "bk-hint"},
    "Left: each token as a query; right: the tokens it attends to, one line per link, stronger links darker " +
    "and wider. Hover a token to see only its links (click to pin it). The heatmap shows the same head."));
  var headRow = el("div", {"class": "bk-head-row"});
  var headView = el("div", {id: "bk-head-view", "class": "bk-head-view"});
  var scroller = el("div", {"class": "bk-head-scroll"});
  var grid = el("div", {"class": "bk-head-grid"});
  var colQ = el("div", {"class": "bk-col bk-col-q"}), colK = el("div", {"class": "bk-col bk-col-k"});
  var canvasWrap = el("div", {"class": "bk-canvas-wrap"});
  var headCanvas = el("canvas", {id: "bk-head-canvas"});
  canvasWrap.appendChild(headCanvas);
  var rowH = Math.max(6, Math.min(T > 100 ? 16 : 22, Math.floor(30000 / Math.max(1, T))));
  var fontPx = Math.max(6, Math.min(13, rowH - 4));
  grid.style.setProperty("--bk-row", rowH + "px");
  grid.style.setProperty("--bk-font", fontPx + "px");
  var tokQ = [], tokK = [];
  for (var i = 0; i < T; i++) {
    var a = el("div", {"class": "bk-tok", "data-index": String(i), "data-side": "q", title: i + ": " + tokens[i]}, tokens[i]);
    var b = el("div", {"class": "bk-tok", "data-index": String(i), "data-side": "k", title: i + ": " + tokens[i]}, tokens[i]);
    tokQ.push(a); tokK.push(b); colQ.appendChild(a); colK.appendChild(b);
  }
  grid.appendChild(colQ); grid.appendChild(canvasWrap); grid.appendChild(colK);
  scroller.appendChild(grid);
  headView.appendChild(scroller);
  headRow.appendChild(headView);

  var heatBox = el("div", {"class": "bk-heat-box"});
  heatBox.appendChild(el("div", {"class": "bk-heat-axes"}, "rows: queries ↓ · columns: keys →"));
  var heat = el("canvas", {id: "bk-heatmap", "class": "bk-heatmap"});
  if (T < 400) heat.classList.add("bk-pixelated");
  var heatWrap = el("div", {"class": "bk-heat-wrap"});
  var heatMark = el("div", {id: "bk-heat-mark", "class": "bk-heat-mark"});
  heatWrap.appendChild(heat); heatWrap.appendChild(heatMark);
  if (T <= 48) {  /* short inputs: the tokens label the axes */
    var hgrid = el("div", {"class": "bk-heat-grid"});
    var top = el("div", {"class": "bk-heat-top"}), left = el("div", {"class": "bk-heat-left"});
    for (var ti = 0; ti < T; ti++) {
      top.appendChild(el("div", {"class": "bk-heat-label", title: ti + ": " + tokens[ti]}, tokens[ti]));
      left.appendChild(el("div", {"class": "bk-heat-label", title: ti + ": " + tokens[ti]}, tokens[ti]));
    }
    hgrid.appendChild(el("div")); hgrid.appendChild(top); hgrid.appendChild(left); hgrid.appendChild(heatWrap);
    heatBox.appendChild(hgrid);
  } else {
    heatBox.appendChild(heatWrap);
  }
  var readout = el("div", {id: "bk-readout", "class": "bk-readout bk-mono"}, "Point at the heatmap to read a weight.");
  heatBox.appendChild(readout);
  headRow.appendChild(heatBox);
  headSection.appendChild(headRow);

  /* model view */
  var modelSection = el("section", {"class": "bk-section", id: "bk-model-section"});
  modelSection.appendChild(el("h2", null, "Model view: every layer × head"));
  modelSection.appendChild(el("p", {"class": "bk-hint"}, "Rows are layers, columns are heads; each thumbnail is a head's " +
    "attention (query rows × key columns). Click one to open it in the head view."));
  var modelView = el("div", {id: "bk-model-view", "class": "bk-model-view"});
  modelView.style.gridTemplateColumns = "auto repeat(" + H + ", var(--bk-thumb))";
  modelView.appendChild(el("div", {"class": "bk-corner"}));
  for (h = 0; h < H; h++) modelView.appendChild(el("div", {"class": "bk-col-label"}, "H" + h));
  var thumbs = [];
  var thumbN = Math.min(T, 96);
  for (l = 0; l < L; l++) {
    modelView.appendChild(el("div", {"class": "bk-row-label"}, "L" + l));
    var row = [];
    for (h = 0; h < H; h++) {
      var c = el("canvas", {"class": "bk-thumb", "data-layer": String(l), "data-head": String(h),
                            title: "layer " + l + ", head " + h, tabindex: "0", role: "button"});
      if (T < 80) c.classList.add("bk-pixelated");
      row.push(c); modelView.appendChild(c);
    }
    thumbs.push(row);
  }
  modelSection.appendChild(modelView);

  app.appendChild(headSection);
  app.appendChild(modelSection);

  /* ---------- head view drawing ---------- */
  var canvasW = 220;
  function sizeCanvas() {
    var dpr = window.devicePixelRatio || 1, hgt = T * rowH;
    dpr = Math.min(dpr, 30000 / Math.max(1, hgt));
    headCanvas.style.width = canvasW + "px"; headCanvas.style.height = hgt + "px";
    headCanvas.width = Math.round(canvasW * dpr); headCanvas.height = Math.round(hgt * dpr);
    return dpr;
  }
  var dpr = sizeCanvas();

  function clearTokenMarks() {
    for (var i = 0; i < T; i++) {
      tokQ[i].style.backgroundColor = ""; tokK[i].style.backgroundColor = "";
      tokQ[i].classList.remove("bk-active"); tokK[i].classList.remove("bk-active");
    }
  }

  function drawHead() {
    var l = state.layer, h = state.head, th = state.threshold, head = rows[l][h];
    var hue = headHue(h), ctx = headCanvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, canvasW, T * rowH);
    ctx.strokeStyle = "hsl(" + hue + ",70%,42%)";
    ctx.lineCap = "round";
    var hq = state.highlight, hk = state.highlightKey, focused = hq >= 0 || hk >= 0;
    /* links grouped into 20 strength buckets, one path each */
    var buckets = [];
    for (var b = 0; b <= 20; b++) buckets.push([]);
    function add(q, key, w) { if (w >= th && w > 0) buckets[Math.min(20, Math.ceil(w * 20))].push(q, key); }
    var q, r, i;
    if (hq >= 0) {
      r = head[hq];
      for (i = 0; i < r.k.length; i++) add(hq, r.k[i], r.w[i]);
    } else {
      for (q = 0; q < T; q++) {
        r = head[q];
        for (i = 0; i < r.k.length; i++) if (hk < 0 || r.k[i] === hk) add(q, r.k[i], r.w[i]);
      }
    }
    for (b = 1; b <= 20; b++) {
      var list = buckets[b];
      if (!list.length) continue;
      var w = b / 20;
      ctx.globalAlpha = focused ? Math.min(1, 0.25 + 0.75 * Math.sqrt(w)) : Math.min(1, 0.06 + 0.8 * Math.sqrt(w));
      ctx.lineWidth = focused ? 1.5 + 3 * w : 0.8 + 2.5 * w;
      ctx.beginPath();
      for (var j = 0; j < list.length; j += 2) {
        ctx.moveTo(2, (list[j] + 0.5) * rowH);
        ctx.lineTo(canvasW - 2, (list[j + 1] + 0.5) * rowH);
      }
      ctx.stroke();
    }
    ctx.globalAlpha = 1;

    clearTokenMarks();
    if (hq >= 0) {
      tokQ[hq].classList.add("bk-active");
      r = head[hq];
      for (i = 0; i < r.k.length; i++) if (r.w[i] >= th) {
        tokK[r.k[i]].style.backgroundColor = "hsla(" + hue + ",75%,50%," + Math.min(0.85, Math.sqrt(r.w[i])).toFixed(3) + ")";
      }
    } else if (hk >= 0) {
      tokK[hk].classList.add("bk-active");
      for (q = 0; q < T; q++) {
        r = head[q];
        for (i = 0; i < r.k.length; i++) if (r.k[i] === hk && r.w[i] >= th) {
          tokQ[q].style.backgroundColor = "hsla(" + hue + ",75%,50%," + Math.min(0.85, Math.sqrt(r.w[i])).toFixed(3) + ")";
        }
      }
    }
    headView.setAttribute("data-layer", String(l));
    headView.setAttribute("data-head", String(h));
    headView.setAttribute("data-threshold", String(th));
    headView.setAttribute("data-highlight", hq >= 0 ? String(hq) : "");
    headView.setAttribute("data-highlight-key", hk >= 0 ? String(hk) : "");
    headView.style.setProperty("--bk-hue", String(hue));
    if (focused) readout.textContent = topLinks(head, hq, hk);
    /* the same row (or column) framed on the heatmap */
    var ms = heatMark.style, cell = 100 / T;
    ms.display = focused ? "block" : "none";
    ms.borderColor = "hsl(" + hue + ",70%,42%)";
    if (hq >= 0) { ms.left = "0"; ms.width = "100%"; ms.top = (hq * cell) + "%"; ms.height = cell + "%"; }
    else if (hk >= 0) { ms.top = "0"; ms.height = "100%"; ms.left = (hk * cell) + "%"; ms.width = cell + "%"; }
  }

  /* "query 10 “it” attends most to: “animal” 0.677 · …" (or, for a key, the queries that attend to it most) */
  function topLinks(head, hq, hk) {
    var pairs = [], r, i, q;
    if (hq >= 0) {
      r = head[hq];
      for (i = 0; i < r.k.length; i++) pairs.push([r.w[i], r.k[i]]);
    } else {
      for (q = 0; q < T; q++) {
        r = head[q];
        for (i = 0; i < r.k.length; i++) if (r.k[i] === hk) pairs.push([r.w[i], q]);
      }
    }
    pairs.sort(function (a, b) { return b[0] - a[0]; });
    var parts = pairs.slice(0, 5).map(function (p) { return "“" + tokens[p[1]] + "” " + fmt(p[0]); });
    return (hq >= 0 ? "query " + hq + " “" + tokens[hq] + "” attends most to: "
                    : "key " + hk + " “" + tokens[hk] + "” is attended most by: ") + (parts.join(" · ") || "nothing stored");
  }

  function drawHeat() { paintMatrix(heat, state.layer, state.head, Math.min(T, 400)); }
  function paintThumbs() {
    for (var l = 0; l < L; l++) for (var h = 0; h < H; h++) paintMatrix(thumbs[l][h], l, h, thumbN);
    legendLo.textContent = scale === "log" ? "0.001" : "0";
  }

  function showHead() {
    headTitle.textContent = "Head view: layer " + state.layer + ", head " + state.head;
    layerSel.value = String(state.layer); headSel.value = String(state.head);
    thrVal.textContent = fmt(state.threshold);
    for (var l = 0; l < L; l++) for (var h = 0; h < H; h++)
      thumbs[l][h].classList.toggle("bk-selected", l === state.layer && h === state.head);
    drawHead(); drawHeat();
  }

  /* ---------- events ---------- */
  scaleSel.addEventListener("change", function () { scale = scaleSel.value; paintThumbs(); drawHeat(); });
  layerSel.addEventListener("change", function () { state.layer = +layerSel.value; showHead(); });
  headSel.addEventListener("change", function () { state.head = +headSel.value; showHead(); });
  thr.addEventListener("input", function () {
    state.threshold = Math.max(minWeight, +thr.value);
    thrVal.textContent = fmt(state.threshold);
    drawHead();
  });
  function openThumb(t) {
    state.layer = +t.getAttribute("data-layer"); state.head = +t.getAttribute("data-head");
    showHead();
    headSection.scrollIntoView({block: "start"});
  }
  modelView.addEventListener("click", function (e) {
    var t = e.target.closest(".bk-thumb"); if (t) openThumb(t);
  });
  modelView.addEventListener("keydown", function (e) {
    var t = e.target.closest(".bk-thumb");
    if (t && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); openThumb(t); }
  });
  function setFocus(side, idx) {
    state.highlight = side === "q" ? idx : -1;
    state.highlightKey = side === "k" ? idx : -1;
    drawHead();
  }
  grid.addEventListener("mouseover", function (e) {
    var t = e.target.closest(".bk-tok");
    if (t) setFocus(t.getAttribute("data-side"), +t.getAttribute("data-index"));
  });
  grid.addEventListener("mouseleave", function () {
    if (state.pinned) setFocus(state.pinned[0], state.pinned[1]); else setFocus(null, -1);
  });
  grid.addEventListener("click", function (e) {
    var t = e.target.closest(".bk-tok"); if (!t) return;
    var side = t.getAttribute("data-side"), idx = +t.getAttribute("data-index");
    state.pinned = state.pinned && state.pinned[0] === side && state.pinned[1] === idx ? null : [side, idx];
    setFocus(side, idx);
  });
  heat.addEventListener("mousemove", function (e) {
    var rect = heat.getBoundingClientRect();
    var key = Math.floor((e.clientX - rect.left) / rect.width * T), q = Math.floor((e.clientY - rect.top) / rect.height * T);
    if (q < 0 || q >= T || key < 0 || key >= T) return;
    var r = rows[state.layer][state.head][q], w = 0;
    for (var i = 0; i < r.k.length; i++) if (r.k[i] === key) { w = r.w[i]; break; }
    readout.textContent = "query " + q + " “" + tokens[q] + "” → key " + key + " “" + tokens[key] + "”: " +
      (w > 0 ? fmt(w) : (minWeight > 0 ? "< " + fmt(minWeight) : "0"));
  });

  paintThumbs();
  showHead();
  window.bertkitRenderMs = performance.now() - t0;
  document.documentElement.setAttribute("data-bertkit-ready", "1");
})();
