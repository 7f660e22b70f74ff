// Drives the step explorer page the way a reader would and checks what it shows against the
// trace embedded in it. tests/step_page.sh loads this after the page's own script in a copy of
// the page, runs it in headless Chromium and reads the verdict from the dumped DOM:
//   <pre id="test-result">STEP-PAGE-TEST PASS ...</pre>   or   ... FAIL followed by the reasons.
// It resolves every path itself and recomputes dL/dW = Σ_b δ[b, i]·x[b, j] on its own.
(function () {
  "use strict";
  const loadedMs = performance.now();  // navigation start -> the page's script has drawn its first stage
  const problems = [];
  let numbersChecked = 0;
  const fail = (what) => { if (problems.length < 60) problems.push(what); };
  const trace = JSON.parse(document.getElementById("trace").textContent);
  const context = JSON.parse(document.getElementById("context").textContent);
  const t = trace[0];

  function resolve(path) {
    let node = t;
    for (const key of path.split("/")) {
      if (node === undefined || node === null) return undefined;
      node = node[key];
    }
    return node;
  }
  function near(shown, truth, relative = 1e-3) {
    return Math.abs(shown - truth) <= relative * Math.abs(truth) + 1e-12;
  }
  function shownNumber(node) { return Number(node.textContent.trim().replace("\u2212", "-").replace(/^\+/, "")); }
  // every number the page marks as read from the trace must equal the trace's value there
  function checkShownNumbers(where) {
    let n = 0;
    document.querySelectorAll(".num[data-ref]").forEach((node) => {
      const ref = node.dataset.ref, truth = resolve(ref), shown = shownNumber(node);
      if (typeof truth !== "number") fail(`${where}: ${ref} is not a number of the trace`);
      else if (!Number.isFinite(shown) || !near(shown, truth)) fail(`${where}: ${ref} shows "${node.textContent}", the trace has ${truth}`);
      ++n;
    });
    numbersChecked += n;
    return n;
  }
  const key = (k) => document.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
  const tabs = () => Array.from(document.querySelectorAll(".tab"));
  const active = () => tabs().findIndex((tab) => tab.classList.contains("active"));
  const title = () => document.getElementById("stage-title").textContent;
  const hover = () => document.getElementById("hover-info");

  // the cell (r, c) of a heatmap canvas, through the mouse as a reader would
  function point(canvas, r, c, type) {
    const box = canvas.getBoundingClientRect(), rows = +canvas.dataset.rows, cols = +canvas.dataset.cols;
    const sx = (box.width - 2) / cols, sy = (box.height - 2) / rows;
    // a mouse event's coordinates are whole pixels: the first whole pixel inside the cell
    const x = Math.ceil(box.left + 1 + c * sx + 1e-3), y = Math.ceil(box.top + 1 + r * sy + 1e-3);
    if (x >= box.left + 1 + (c + 1) * sx || y >= box.top + 1 + (r + 1) * sy) fail(`a heatmap cell is under a pixel wide (${sx}×${sy})`);
    canvas.dispatchEvent(new MouseEvent(type, { bubbles: true, clientX: x, clientY: y }));
  }
  function pixel(canvas, r, c) { return Array.from(canvas.getContext("2d").getImageData(c, r, 1, 1).data.slice(0, 3)); }

  // the stages the trace calls for, in order
  const expected = [["input", "The input x"]];
  t.forward.forEach((f) => expected.push(["forward", `Forward · layer ${f.layer}: ${f.type}`]));
  expected.push(["softmax", "Softmax"], ["delta", "δ"]);
  t.backward.forEach((s) => expected.push(["backward", `Backward · layer ${s.layer}: ${s.type}`]));
  expected.push(["saliency", "Saliency"], ["update", "update"]);
  if (t.check) expected.push(["check", "Finite-difference check"]);

  function checkDense(k) {
    const s = t.backward[k], L = s.layer, names = Object.keys(s.parameters);
    const weight = names.find((n) => s.parameters[n].shape.length === 2), g = s.parameters[weight];
    const [out, inp] = g.shape, B = t.count;
    const canvas = document.querySelector("#stage canvas.heat");
    const factor = g.pooled ? g.pooled.factor : [1, 1], side = context.max_side;
    if (+canvas.dataset.rows !== Math.ceil(out / factor[0]) || +canvas.dataset.cols !== Math.ceil(inp / factor[1])) fail(`∂L/∂W of ${weight}: heatmap ${canvas.dataset.rows}×${canvas.dataset.cols}`);
    if (+canvas.dataset.rows > side || +canvas.dataset.cols > side) fail(`∂L/∂W of ${weight}: heatmap larger than ${side} a side`);
    if ((out > side || inp > side) && !/max-\|value\| pooling/.test(document.getElementById("stage").textContent)) fail(`${weight}: pooling not stated`);
    // the largest entry, found by hovering the cell that holds it
    const top = g.largest[0];
    point(canvas, Math.floor(top.row / factor[0]), Math.floor(top.col / factor[1]), "mousemove");
    // the cell shows the entry of largest |value| in its block: the largest, or one equal to it
    const info = hover().textContent, at = /∂L\/∂W\[(\d+), (\d+)\]/.exec(info);
    if (!at) { fail(`${weight}: hovering the largest entry shows "${info.slice(0, 60)}"`); return; }
    const i = +at[1], j = +at[2], value = g.pooled ? g.pooled.values[Math.floor(i / factor[0]) * g.pooled.shape[1] + Math.floor(j / factor[1])] : g.values[i * inp + j];
    if (Math.floor(i / factor[0]) !== Math.floor(top.row / factor[0]) || Math.floor(j / factor[1]) !== Math.floor(top.col / factor[1]) ||
        Math.abs(value) !== Math.abs(top.value)) fail(`${weight}: hovering the largest entry (${top.row}, ${top.col}) shows (${i}, ${j}) = ${value}`);
    const x = L === 0 ? t.input.values : t.forward[L - 1].output.values;
    let sum = 0;
    for (let b = 0; b < B; ++b) sum += s.delta.values[b * out + i] * x[b * inp + j];
    const shownSum = hover().querySelector('[data-calc="sum"]');
    if (!shownSum || !near(shownNumber(shownSum), sum)) fail(`${weight}[${i}, ${j}]: Σ δ·x shown ${shownSum && shownSum.textContent}, recomputed ${sum}`);
    if (!near(sum, value, 1e-4)) fail(`${weight}[${i}, ${j}]: Σ δ·x = ${sum} but the trace's gradient is ${value}`);
    const terms = hover().querySelectorAll('[data-calc="product"]').length;
    if (terms !== (B <= 8 ? B : 0)) fail(`${weight}: ${terms} per-sample terms for a batch of ${B}`);
    checkShownNumbers(`hover of ${weight}`);
    // the finite difference: shown exactly for the entries the check visited
    if (t.check) {
      const entries = t.check.entries[weight], k = entries.findIndex((e) => e[0] === i * inp + j);
      const fd = hover().querySelector(".fd .num");
      if ((k >= 0) !== !!fd) fail(`${weight}[${i}, ${j}]: ${k >= 0 ? "checked" : "not checked"}, but a finite difference is ${fd ? "" : "not "}shown`);
      // the check's own largest entry (its first): hover it and read its finite difference
      const first = entries[0][0], fi = Math.floor(first / inp), fj = first % inp;
      point(canvas, Math.floor(fi / factor[0]), Math.floor(fj / factor[1]), "mousemove");
      const named = /∂L\/∂W\[(\d+), (\d+)\]/.exec(hover().textContent), shown = hover().querySelector(".fd .num");
      if (named && +named[1] === fi && +named[2] === fj) {  // a pooled cell may name an equal entry instead
        if (!shown) fail(`${weight}[${fi}, ${fj}] was checked, but no finite difference is shown`);
        else if (!near(shownNumber(shown), entries[0][2])) fail(`${weight}[${fi}, ${fj}]: finite difference ${shown.textContent}, the trace has ${entries[0][2]}`);
        else if (t.check.training_mode && !near(entries[0][2], g.pooled ? g.pooled.values[Math.floor(fi / factor[0]) * g.pooled.shape[1] + Math.floor(fj / factor[1])] : g.values[first], 1e-3))
          fail(`${weight}[${fi}, ${fj}]: the finite difference ${entries[0][2]} is far from the gradient`);
      } else if (!g.pooled) fail(`${weight}: hovering entry (${fi}, ${fj}) names ${named && named[0]}`);
    }
    checkShownNumbers(`hover of ${weight}, a checked entry`);
    point(canvas, 0, 0, "click");
    if (!hover().textContent.includes("(pinned)")) fail(`${weight}: a click does not pin the cell`);
    checkShownNumbers(`pinned cell of ${weight}`);
  }

  function checkGate(k) {
    const s = t.backward[k], y = t.forward[s.layer].output, n = y.shape[1];
    const canvas = document.querySelectorAll("#stage canvas.heat")[1];
    const cols = +canvas.dataset.cols;
    let open = 0, drawn = 0;
    for (let u = 0; u < n; ++u) {
      if (y.values[u] !== 0) ++open;
      if (pixel(canvas, Math.floor(u / cols), u % cols).join() === "38,139,112") ++drawn;
    }
    if (open !== drawn) fail(`the gate of layer ${s.layer}: ${drawn} units drawn open, ${open} outputs of sample 0 are not 0`);
    if (t.count === 1 && open !== s.passed) fail(`the gate of layer ${s.layer}: ${open} open units but the trace says ${s.passed} passed`);
  }

  function checkStage(k) {
    const [kind, words] = expected[k];
    if (!title().includes(words)) fail(`stage ${k + 1}: title "${title()}", expected it to name "${words}"`);
    if (document.getElementById("stage-counter").textContent !== `stage ${k + 1} / ${expected.length}`) fail(`stage ${k + 1}: counter "${document.getElementById("stage-counter").textContent}"`);
    if (location.hash.indexOf(`stage=${k + 1}`) < 0) fail(`stage ${k + 1}: the address says ${location.hash}`);
    if (checkShownNumbers(`stage ${k + 1}`) === 0) fail(`stage ${k + 1} shows no number from the trace`);
    const canvases = document.querySelectorAll("#stage canvas.heat");
    if (kind === "input") {
      const rows = context.image.rows, cols = context.image.cols;
      if (canvases.length !== Math.min(t.count, 8)) fail(`input: ${canvases.length} images for ${t.count} samples`);
      canvases.forEach((c) => { if (+c.dataset.rows !== rows || +c.dataset.cols !== cols) fail(`input drawn ${c.dataset.rows}×${c.dataset.cols}, not ${rows}×${cols}`); });
    } else if (kind === "softmax" || kind === "delta") {
      const C = t.samples[0].y_hat.length, shown = (field) => document.querySelectorAll(`[data-ref^="samples/0/${field}/"]`).length;
      if (shown("y_hat") < C) fail(`${kind}: ${shown("y_hat")} of ${C} probabilities shown`);
      const target = t.samples[0].target ? "target" : "y";
      if (shown(target) < C) fail(`${kind}: ${shown(target)} of ${C} targets shown`);
      if (kind === "delta" && shown("delta") < C) fail(`δ: ${shown("delta")} of ${C} values shown`);
    } else if (kind === "backward") {
      const s = t.backward[k - t.forward.length - 3];
      const hasWeight = s.parameters && Object.values(s.parameters).some((p) => p.shape.length === 2);
      if (hasWeight) checkDense(k - t.forward.length - 3);
      else if (s.passed !== undefined) checkGate(k - t.forward.length - 3);
    } else if (kind === "saliency") {
      const c = canvases[0], n = t.saliency.shape[1];
      if (+c.dataset.rows * +c.dataset.cols !== n || (context.image.rows && +c.dataset.rows !== context.image.rows)) fail(`saliency drawn ${c.dataset.rows}×${c.dataset.cols}`);
      let best = 0;
      for (let i = 1; i < n; ++i) if (Math.abs(t.saliency.values[i]) > Math.abs(t.saliency.values[best])) best = i;
      point(c, Math.floor(best / +c.dataset.cols), best % +c.dataset.cols, "mousemove");
      const ref = hover().querySelector('[data-ref^="saliency/values/"]');
      if (!ref || ref.dataset.ref !== `saliency/values/${best}`) fail(`saliency: hovering pixel ${best} shows ${ref && ref.dataset.ref}`);
      checkShownNumbers("saliency hover");
    } else if (kind === "update") {
      const rows = document.querySelectorAll('#stage [data-ref$="/delta_norm"]').length;
      if (rows !== t.update.parameters.length) fail(`update: ${rows} of ${t.update.parameters.length} parameters listed`);
      const c = canvases[0];
      if (c) {
        point(c, 0, 0, "mousemove");
        const change = hover().querySelector('[data-calc="after-before"], [data-ref*="/change/values/"]');
        if (!change) fail("update: hovering ΔW shows no change");
        // the entry named must be the one whose change is shown
        const q = t.update.parameters.find((p) => p.shape.length === 2), at = /\[(\d+), (\d+)\]/.exec(hover().textContent);
        const flat = at ? +at[1] * q.shape[1] + +at[2] : -1;
        if (q.change ? q.change.at[0] !== flat : !near(shownNumber(change), q.after[flat] - q.before[flat]))
          fail(`update: hovering ΔW's first cell names ${at && at[0]}`);
        checkShownNumbers("update hover");
      }
    } else if (kind === "check") {
      if (document.querySelectorAll('#stage [data-ref$="/max_relative_error"]').length !== t.check.tensors.length + 1) fail("check: not every tensor listed");
    }
  }

  const started = performance.now();
  // about 0.4 s for 784-1024-1024-10 on a busy machine; far above it, the page has grown (unpooled weights)
  if (loadedMs > 5000) fail(`the page took ${loadedMs.toFixed(0)} ms to open`);
  // the address selected the stage the page opened on
  const opened = Number(new URLSearchParams(location.hash.slice(1)).get("stage") || 1) - 1;
  if (active() !== opened) fail(`opened on tab ${active() + 1}, the address asks for ${opened + 1}`);
  if (tabs().length !== expected.length) fail(`${tabs().length} tabs, the trace has ${expected.length} stages`);
  if (getComputedStyle(document.getElementById("step-control")).display !== "none" && trace.length === 1) fail("the step slider shows for a single step");
  // every stage with the keyboard, from the first
  key("Home");
  for (let k = 0; k < expected.length; ++k) {
    if (k > 0) key("ArrowRight");
    if (active() !== k) { fail(`→ to stage ${k + 1} left tab ${active() + 1} active`); break; }
    checkStage(k);
  }
  key("ArrowRight");
  if (active() !== expected.length - 1) fail("→ on the last stage moved");
  key("ArrowLeft");
  if (active() !== expected.length - 2) fail("← did not go back one stage");
  // every tab by clicking it, from the last
  for (let k = expected.length - 1; k >= 0; --k) {
    tabs()[k].click();
    if (active() !== k) fail(`clicking tab ${k + 1} left tab ${active() + 1} active`);
    else if (!title().includes(expected[k][1])) fail(`clicking tab ${k + 1} shows "${title()}"`);
  }
  // a second sample, when there is one
  const other = document.querySelector('#samples button[data-sample="1"]');
  if (t.count > 1) {
    if (!other) fail("no way to pick sample 1");
    else {
      tabs()[expected.findIndex(([kind]) => kind === "softmax")].click();
      other.click();
      if (!document.querySelector('[data-ref="samples/1/loss_logsumexp"]')) fail("picking sample 1 does not show its loss");
      checkShownNumbers("sample 1");
    }
  }
  // several steps: a slider over them
  if (trace.length > 1) {
    const slider = document.getElementById("step-slider");
    if (getComputedStyle(document.getElementById("step-control")).display === "none") fail("no step slider for several steps");
    slider.value = String(trace.length - 1);
    slider.dispatchEvent(new Event("input", { bubbles: true }));
    if (document.getElementById("step-label").textContent !== `${trace.length} / ${trace.length}`) fail("the slider did not move to the last step");
    if (location.hash.indexOf(`step=${trace.length}`) < 0) fail(`the address does not name the step: ${location.hash}`);
  }
  const result = document.createElement("pre");
  result.id = "test-result";
  result.textContent = (problems.length ? "STEP-PAGE-TEST FAIL\n" + problems.join("\n") : "STEP-PAGE-TEST PASS") +
    `\nstages ${expected.length}, numbers checked ${numbersChecked}, opened in ${loadedMs.toFixed(0)} ms, walked in ${(performance.now() - started).toFixed(0)} ms\n`;
  document.body.append(result);
})();
