// The model's thread: loads isoformer-web (wasm), builds the predictor from the files the page
// read, predicts and reports progress. Messages in: {type: "load", files, backend},
// {type: "predict", input} with input {kind: "tsv", name, text} or {kind: "fasta", dna, rna,
// protein} (each {name, text}), {type: "variants", genome, annotation, vcf (each {name, text}),
// window}. Out: ready, loaded, progress, result, variant-progress, variant-result, error.
import init, { WebPredictor } from "./isoformer-web.js";

let predictor = null;
const ready = init({ module_or_path: new URL("./isoformer-web_bg.wasm", import.meta.url) });

// The WebAssembly memory's size: it only grows, so this is the peak so far.
async function wasmBytes() {
  return (await ready).memory.buffer.byteLength;
}

function message(e) {
  if (e instanceof Error) return e.message;
  return String(e);
}

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    await ready;
    if (msg.type === "load") {
      if (predictor) { predictor.free(); predictor = null; }
      // Text files arrive as ArrayBuffers; model.safetensors as a Blob or File, which the model
      // reads in slices while it loads (never whole in wasm memory).
      const files = {};
      for (const [name, v] of Object.entries(msg.files)) files[name] = v instanceof ArrayBuffer ? new Uint8Array(v) : v;
      const t0 = performance.now();
      predictor = await WebPredictor.load(files, msg.backend);
      self.postMessage({
        type: "loaded", device: predictor.device, fallbackReason: predictor.fallbackReason ?? null,
        outputs: predictor.outputs, units: predictor.units, millis: performance.now() - t0, wasmBytes: await wasmBytes(),
      });
    } else if (msg.type === "predict") {
      if (!predictor) throw new Error("no model loaded");
      const progress = (done, total) => self.postMessage({ type: "progress", done, total });
      const i = msg.input;
      const p = i.kind === "fasta"
        ? await predictor.predictFasta(i.dna.name, i.dna.text, i.rna.name, i.rna.text, i.protein.name, i.protein.text, progress)
        : await predictor.predict(i.name, i.text, progress);
      self.postMessage({
        type: "result", ids: p.ids, outputs: p.outputs, values: p.values, tsv: p.tsv,
        warnings: p.warnings, units: p.units, millis: p.millis, device: predictor.device, wasmBytes: await wasmBytes(),
      });
      p.free();
    } else if (msg.type === "variants") {
      if (!predictor) throw new Error("no model loaded");
      const progress = (done, total) => self.postMessage({ type: "variant-progress", done, total });
      const { genome, annotation, vcf } = msg;
      const s = await predictor.scoreVariants(genome.name, genome.text, annotation.name, annotation.text, vcf.name, vcf.text, msg.window, progress);
      self.postMessage({
        type: "variant-result", tsv: s.tsv, labels: s.labels, variants: s.variants, values: s.values, outputs: s.outputs,
        notes: s.notes, millis: s.millis, device: predictor.device, wasmBytes: await wasmBytes(),
      });
      s.free();
    }
  } catch (e) {
    self.postMessage({ type: "error", during: msg.type, message: message(e) });
  }
};

ready.then(() => self.postMessage({ type: "ready" }), (e) => self.postMessage({ type: "error", during: "start", message: "could not start the model's WebAssembly: " + message(e) }));
