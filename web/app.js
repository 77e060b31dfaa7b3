// The page: picks files (File API, nothing uploaded), talks to the worker, draws the results.
const $ = (id) => document.getElementById(id);
const MODEL_FILES = ["config.json", "model.safetensors", "dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"];

const FASTA_ROLES = ["dna", "rna", "protein"];
const ROLE_NAME = { dna: "DNA", rna: "RNA", protein: "protein" };

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
// `input`: what Predict sends, {kind: "tsv", name, text} or {kind: "fasta", dna, rna, protein}
// (each {name, text}); `fasta`: the FASTA files picked so far, by role.
const state = { workerReady: false, modelLoaded: false, input: null, fasta: {}, busy: false, result: null, variantFiles: {}, variantResult: null };
const VARIANT_ROLES = ["genome", "annotation", "vcf"];

function showError(text) {
  const el = $("error");
  el.textContent = text;
  el.hidden = !text;
}

function refresh() {
  $("predict").disabled = !(state.workerReady && state.modelLoaded && state.input && !state.busy);
  $("score-variants").disabled = !(state.workerReady && state.modelLoaded && VARIANT_ROLES.every((r) => state.variantFiles[r]) && !state.busy);
  document.body.dataset.state = state.busy ? "busy" : state.result ? "done" : state.modelLoaded ? "loaded" : "idle";
}

function mib(bytes) {
  return `${Math.round(bytes / 1048576)} MiB`;
}

function loadModel(files, label) {
  state.modelLoaded = false;
  state.busy = true;
  state.result = null;
  $("results").hidden = true;
  $("model-status").textContent = `Loading ${label}…`;
  $("model-units").hidden = true;
  showError("");
  refresh();
  // ArrayBuffers move to the worker; the weights go as a Blob/File, read there in slices.
  const buffers = Object.values(files).filter((v) => v instanceof ArrayBuffer);
  worker.postMessage({ type: "load", files, backend: $("backend").value }, buffers);
}

worker.onmessage = (event) => {
  const m = event.data;
  if (m.type === "ready") {
    state.workerReady = true;
  } else if (m.type === "loaded") {
    state.modelLoaded = true;
    state.busy = false;
    const why = m.fallbackReason ? ` (WebGPU not used: ${m.fallbackReason})` : "";
    $("model-status").textContent = `Model loaded on ${m.device} in ${(m.millis / 1000).toFixed(m.millis < 1000 ? 2 : 1)} s${why}; WebAssembly memory ${mib(m.wasmBytes)}.`;
    $("model-status").dataset.wasmBytes = m.wasmBytes;
    $("model-status").dataset.device = m.device;
    // What the model's outputs are, from the model itself (its output names and the pipeline's
    // reading of them), before anything is predicted.
    const names = m.outputs.length > 4 ? `${m.outputs.slice(0, 2).join(", ")}, …, ${m.outputs[m.outputs.length - 1]}` : m.outputs.join(", ");
    $("model-units").textContent = `Its ${m.outputs.length} outputs: ${names}. ${m.units}`;
    $("model-units").hidden = false;
  } else if (m.type === "progress") {
    $("progress").hidden = false;
    $("progress").max = m.total;
    $("progress").value = m.done;
    $("run-status").textContent = `${m.done} / ${m.total} transcripts`;
  } else if (m.type === "result") {
    state.busy = false;
    state.result = m;
    $("run-status").textContent = `${m.ids.length} ${m.ids.length === 1 ? "transcript" : "transcripts"} predicted on ${m.device} in ${(m.millis / 1000).toFixed(2)} s; WebAssembly memory ${mib(m.wasmBytes)}.`;
    $("run-status").dataset.millis = m.millis;
    $("run-status").dataset.wasmBytes = m.wasmBytes;
    showResults(m);
  } else if (m.type === "variant-progress") {
    $("variant-progress").hidden = false;
    $("variant-progress").max = m.total;
    $("variant-progress").value = m.done;
    $("variant-status").textContent = `${m.done} / ${m.total} variants`;
  } else if (m.type === "variant-result") {
    state.busy = false;
    state.variantResult = m;
    $("variant-progress").hidden = true;
    $("variant-status").textContent = `${m.labels.length} (variant, isoform) pairs scored on ${m.device} in ${(m.millis / 1000).toFixed(2)} s; WebAssembly memory ${mib(m.wasmBytes)}.`;
    showVariantResults(m);
  } else if (m.type === "error" && m.during === "variants") {
    state.busy = false;
    $("variant-progress").hidden = true;
    $("variant-status").textContent = "";
    $("variant-error").textContent = m.message;
    $("variant-error").hidden = false;
  } else if (m.type === "error") {
    state.busy = false;
    if (m.during === "load") $("model-status").textContent = "No model loaded.";
    $("progress").hidden = true;
    $("run-status").textContent = "";
    showError(m.message);
  }
  refresh();
};
worker.onerror = (e) => {
  state.busy = false;
  showError(`The model's worker failed: ${e.message || "unknown error"}`);
  refresh();
};

$("use-example").addEventListener("click", async () => {
  showError("");
  try {
    const files = {};
    for (const name of MODEL_FILES) {
      const r = await fetch(`example/${name}`);
      if (!r.ok) throw new Error(`example/${name}: HTTP ${r.status}`);
      files[name] = name === "model.safetensors" ? await r.blob() : await r.arrayBuffer();
    }
    const r = await fetch("example/example.tsv");
    if (!r.ok) throw new Error(`example/example.tsv: HTTP ${r.status}`);
    const text = await r.text();
    clearPickers();
    state.input = { kind: "tsv", name: "example.tsv", text };
    const rows = text.split("\n").filter((l) => l.length > 0).length - 1;
    $("input-status").textContent = `Input: the bundled example.tsv (${rows} transcripts).`;
    loadModel(files, "the bundled example model");
  } catch (e) {
    showError(`Could not read the bundled example: ${e.message}`);
  }
});

$("model-files").addEventListener("change", async (event) => {
  showError("");
  const picked = Array.from(event.target.files);
  const byName = new Map(picked.map((f) => [f.name, f]));
  const missing = MODEL_FILES.filter((n) => !byName.has(n));
  if (missing.length) {
    showError(`The model directory is incomplete: missing ${missing.join(", ")}. Pick all five files: ${MODEL_FILES.join(", ")}.`);
    return;
  }
  const files = {};
  for (const name of MODEL_FILES) files[name] = name === "model.safetensors" ? byName.get(name) : await byName.get(name).arrayBuffer();
  loadModel(files, picked.length === 5 ? "the picked model" : `the picked model (${picked.length - 5} other files ignored)`);
});

// A picked file as text, or null after showing why not (the page reads no gzip: neither the
// TSV nor the FASTA readers it shares with the CLI see compressed bytes here).
async function readText(f, expected) {
  const bytes = new Uint8Array(await f.arrayBuffer());
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    showError(`${f.name}: gzip-compressed; decompress it first (gunzip ${f.name}).`);
    return null;
  }
  try {
    return { name: f.name, text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), bytes: bytes.length };
  } catch {
    showError(`${f.name}: not a text file (expected ${expected}).`);
    return null;
  }
}

function clearPickers() {
  $("input-file").value = "";
  for (const role of FASTA_ROLES) $(`fasta-${role}`).value = "";
  state.fasta = {};
}

$("input-file").addEventListener("change", async (event) => {
  showError("");
  const f = event.target.files[0];
  if (!f) return;
  for (const role of FASTA_ROLES) $(`fasta-${role}`).value = "";
  state.fasta = {};
  state.input = null;
  const read = await readText(f, "a tab-separated table");
  if (read) {
    state.input = { kind: "tsv", name: read.name, text: read.text };
    $("input-status").textContent = `Input: ${read.name} (${read.bytes} bytes).`;
  } else {
    $("input-status").textContent = "No input chosen.";
  }
  refresh();
});

for (const role of FASTA_ROLES) {
  $(`fasta-${role}`).addEventListener("change", async (event) => {
    showError("");
    const f = event.target.files[0];
    $("input-file").value = "";
    state.input = null;
    delete state.fasta[role];
    if (f) {
      const read = await readText(f, `a ${ROLE_NAME[role]} FASTA file`);
      if (read) state.fasta[role] = read;
    }
    const missing = FASTA_ROLES.filter((r) => !state.fasta[r]);
    const picked = FASTA_ROLES.filter((r) => state.fasta[r]).map((r) => `${ROLE_NAME[r]} ${state.fasta[r].name} (${state.fasta[r].bytes} bytes)`);
    if (!missing.length) {
      const [dna, rna, protein] = FASTA_ROLES.map((r) => ({ name: state.fasta[r].name, text: state.fasta[r].text }));
      state.input = { kind: "fasta", dna, rna, protein };
      $("input-status").textContent = `Input: FASTA ${picked.join(", ")}.`;
    } else {
      $("input-status").textContent = `FASTA picked: ${picked.join(", ") || "none"}; still to pick: ${missing.map((r) => ROLE_NAME[r]).join(", ")}.`;
    }
    refresh();
  });
}

$("predict").addEventListener("click", () => {
  if (!state.input) return;
  showError("");
  state.busy = true;
  state.result = null;
  $("results").hidden = true;
  $("progress").hidden = false;
  $("progress").value = 0;
  $("run-status").textContent = "Predicting…";
  refresh();
  worker.postMessage({ type: "predict", input: state.input });
});

for (const role of VARIANT_ROLES) {
  $(`variant-${role}`).addEventListener("change", async (event) => {
    $("variant-error").hidden = true;
    delete state.variantFiles[role];
    const f = event.target.files[0];
    if (f) {
      const read = await readText(f, { genome: "a FASTA file", annotation: "a GTF or GFF3 file", vcf: "a VCF file" }[role]);
      if (read) state.variantFiles[role] = read;
    }
    const missing = VARIANT_ROLES.filter((r) => !state.variantFiles[r]);
    $("variant-status").textContent = missing.length ? `Still to pick: ${missing.join(", ")}.` : `Ready: ${VARIANT_ROLES.map((r) => state.variantFiles[r].name).join(", ")}.`;
    refresh();
  });
}

$("score-variants").addEventListener("click", () => {
  if (!VARIANT_ROLES.every((r) => state.variantFiles[r])) return;
  $("variant-error").hidden = true;
  state.busy = true;
  state.variantResult = null;
  $("variant-results").hidden = true;
  $("variant-progress").hidden = false;
  $("variant-progress").value = 0;
  $("variant-status").textContent = "Scoring…";
  refresh();
  const [genome, annotation, vcf] = VARIANT_ROLES.map((r) => ({ name: state.variantFiles[r].name, text: state.variantFiles[r].text }));
  worker.postMessage({ type: "variants", genome, annotation, vcf, window: Number($("variant-window").value) });
});

$("variant-download").addEventListener("click", () => {
  if (state.variantResult) downloadTsv(state.variantResult.tsv, "variant_scores.tsv");
});

// The table is the TSV the pipeline wrote (what `isoformer score-variants` writes).
function showVariantResults(m) {
  fillTable($("variant-table"), m.tsv);
  $("variant-notes").textContent = m.notes.join("\n");
  $("variant-results").hidden = false;
  drawDeltaHeatmap(m);
}

// Blue (negative) – white (0) – red (positive), both ends at the largest |Δ|.
function diverging(t) {
  const x = Math.min(Math.max(t, -1), 1);
  const to = x < 0 ? [33, 102, 172] : [178, 24, 43];
  const f = Math.abs(x);
  const c = to.map((v) => Math.round(255 + f * (v - 255)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function drawDeltaHeatmap(m) {
  const rows = m.labels.length, cols = m.outputs.length;
  const canvas = $("variant-heatmap");
  const ctx = canvas.getContext("2d");
  const left = 330, top = 170, cell = Math.max(6, Math.min(26, Math.floor(700 / Math.max(cols, 1)))), rowH = Math.max(4, Math.min(18, Math.floor(900 / Math.max(rows, 1))));
  canvas.width = left + cols * cell + 140;
  canvas.height = top + Math.max(rows * rowH, 100) + 20;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let reach = 0;
  for (const v of m.values) reach = Math.max(reach, Math.abs(v));
  if (reach === 0) reach = 1;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      ctx.fillStyle = diverging(m.values[i * cols + j] / reach);
      ctx.fillRect(left + j * cell, top + i * rowH, cell, rowH);
    }
    // A line between variants.
    if (i > 0 && m.variants[i] !== m.variants[i - 1]) {
      ctx.fillStyle = "#444";
      ctx.fillRect(0, top + i * rowH, left + cols * cell, 1);
    }
  }
  ctx.fillStyle = "#222";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  if (rowH >= 9) m.labels.forEach((l, i) => ctx.fillText(l.length > 52 ? l.slice(0, 51) + "…" : l, 4, top + i * rowH + rowH / 2));
  m.outputs.forEach((t, j) => {
    ctx.save();
    ctx.translate(left + j * cell + cell / 2, top - 4);
    ctx.rotate(-Math.PI / 3);
    ctx.fillText(t, 0, 0);
    ctx.restore();
  });
  const lx = left + cols * cell + 20;
  for (let k = 0; k < 100; k++) {
    ctx.fillStyle = diverging(1 - (2 * k) / 99);
    ctx.fillRect(lx, top + k, 14, 1);
  }
  ctx.fillStyle = "#222";
  ctx.fillText(`+${reach.toFixed(3)}`, lx + 18, top);
  ctx.fillText("0", lx + 18, top + 50);
  ctx.fillText(`−${reach.toFixed(3)}`, lx + 18, top + 99);
}

// Save a TSV the pipeline wrote under `name` (nothing leaves the machine: a blob URL).
function downloadTsv(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/tab-separated-values" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

$("download").addEventListener("click", () => {
  if (state.result) downloadTsv(state.result.tsv, "predictions.tsv");
});

// The table is the TSV isoformer-pipeline wrote (the bytes `isoformer predict` writes and the
// download button saves), split into cells: the page never formats a number itself.
function showResults(m) {
  fillTable($("table"), m.tsv);
  $("result-note").textContent = m.warnings.length ? m.warnings.join("\n") + "\n" + m.units : m.units;
  $("results").hidden = false;
  drawHeatmap(m);
}

// A TSV's cells into a table (header row, then body).
function fillTable(table, tsv) {
  table.replaceChildren();
  const lines = tsv.split("\n").filter((l) => l.length > 0);
  const head = table.createTHead().insertRow();
  for (const h of lines[0].split("\t")) {
    const th = document.createElement("th");
    th.textContent = h;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const line of lines.slice(1)) {
    const row = body.insertRow();
    for (const cell of line.split("\t")) row.insertCell().textContent = cell;
  }
}

// Viridis, five stops, linear in between.
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  const x = Math.min(Math.max(t, 0), 1) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const f = x - i;
  const c = STOPS[i].map((a, k) => Math.round(a + f * (STOPS[i + 1][k] - a)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function drawHeatmap(m) {
  const rows = m.ids.length, cols = m.outputs.length;
  const canvas = $("heatmap");
  const ctx = canvas.getContext("2d");
  const left = 140, top = 150, cell = Math.max(6, Math.min(26, Math.floor(700 / cols))), rowH = Math.max(4, Math.min(22, Math.floor(720 / rows)));
  canvas.width = left + cols * cell + 120;
  canvas.height = top + Math.max(rows * rowH, 100) + 20;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let lo = Infinity, hi = -Infinity;
  for (const v of m.values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      ctx.fillStyle = colour((m.values[i * cols + j] - lo) / span);
      ctx.fillRect(left + j * cell, top + i * rowH, cell, rowH);
    }
  }
  ctx.fillStyle = "#222";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  if (rowH >= 9) m.ids.forEach((id, i) => ctx.fillText(id.length > 20 ? id.slice(0, 19) + "…" : id, 4, top + i * rowH + rowH / 2));
  m.outputs.forEach((t, j) => {
    ctx.save();
    ctx.translate(left + j * cell + cell / 2, top - 4);
    ctx.rotate(-Math.PI / 3);
    ctx.fillText(t, 0, 0);
    ctx.restore();
  });
  const lx = left + cols * cell + 20;
  for (let k = 0; k < 100; k++) {
    ctx.fillStyle = colour(1 - k / 99);
    ctx.fillRect(lx, top + k, 14, 1);
  }
  ctx.fillStyle = "#222";
  ctx.fillText(hi.toFixed(3), lx + 18, top);
  ctx.fillText(lo.toFixed(3), lx + 18, top + 99);
}

refresh();
