// gen studio: the page. Plain JavaScript over the studio's JSON API; no outside files.
"use strict";

const GEN = window.GEN;
const $ = (id) => document.getElementById(id);
let current = null; // the run picked, as /api/runs/NAME gives it
let picking = 0; // the latest pick: an answer to an earlier one is dropped

async function api(path, body) {
  const options = { headers: { "X-Gen-Token": GEN.token } };
  if (body !== undefined) {
    options.method = "POST";
    options.body = body instanceof Blob ? body : JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const fileUrl = (result, name) =>
  `/files/${encodeURIComponent(current.name)}/${encodeURIComponent(result.id)}/${encodeURIComponent(name)}`;

// -- runs ---------------------------------------------------------------------------------------
async function loadRuns(pick) {
  const { runs, root } = await api("/api/runs");
  $("root").textContent = root;
  const list = $("runs");
  list.replaceChildren();
  if (!runs.length) list.append(element("li", { class: "quiet", text: "no runs yet: train one" }));
  for (const run of runs) {
    const loss = run.best_val_loss == null ? "-" : run.best_val_loss.toFixed(3);
    const item = element("li", { "data-run": run.name, tabindex: 0 },
      element("strong", { text: run.name }),
      element("span", { class: "quiet", text: run.error ? `unreadable: ${run.error}` :
        `${run.corpus.name}, ${run.epochs}/${run.epochs_planned} epochs, best ${loss}` }));
    if (!run.error) item.addEventListener("click", () => pickRun(run.name));
    if (current && current.name === run.name) item.classList.add("picked");
    list.append(item);
  }
  if (pick) await pickRun(pick);
  else if (!current && !picking && runs.length && !runs[0].error) await pickRun(runs[0].name);
}

async function pickRun(name) {
  const mine = ++picking;
  $("generate-form").removeAttribute("data-run");
  const picked = await api(`/api/runs/${encodeURIComponent(name)}`);
  if (mine !== picking) return; // another run was picked meanwhile
  current = picked;
  for (const item of $("runs").children) item.classList.toggle("picked", item.dataset.run === name);
  $("run-name").textContent = current.name;
  const info = $("run-info");
  info.replaceChildren();
  const model = current.model;
  const rows = [
    ["corpus", `${current.corpus.name} (${current.kind || "tokens"})`],
    ["model", `${model.layers} x ${model.units} LSTM, ${model.params.toLocaleString()} parameters`],
    ["epochs", `${current.epochs} of ${current.epochs_planned}`],
    ["best", current.best_val_loss == null ? "-" :
      `${current.best_val_loss.toFixed(4)} ${current.loss_unit || ""} at epoch ${current.best_epoch}`],
    ["created", (current.created || "?").slice(0, 19).replace("T", " ")],
    ["resume", current.resumable ? current.resume_note : `no (${current.resume_note})`],
  ];
  for (const [label, value] of rows) info.append(element("tr", {}, element("th", { text: label }), element("td", { text: value })));
  drawCurve($("run-curve"), current.history, current.loss_unit);
  $("train-resume").hidden = !current.resumable;
  buildFields();
  for (const id of ["run", "generate", "results-section"]) $(id).hidden = false;
  await loadResults();
  if (mine === picking) $("generate-form").dataset.run = name; // ready: fields stay as filled
}

// -- the loss curve -----------------------------------------------------------------------------
function drawCurve(canvas, history, unit) {
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 36, top = 12, bottom = h - 28;
  g.clearRect(0, 0, w, h);
  g.font = "12px sans-serif";
  g.fillStyle = "#555";
  if (!history || !history.length) {
    g.fillText("no finished epoch yet", pad, h / 2);
    return;
  }
  const values = history.flatMap((e) => [e.loss, e.val_loss]).filter((v) => Number.isFinite(v));
  const low = Math.min(...values), high = Math.max(...values), span = high - low || 1;
  const x = (i) => pad + (history.length === 1 ? 0 : (i * (w - 2 * pad)) / (history.length - 1));
  const y = (v) => bottom - ((v - low) / span) * (bottom - top);
  g.strokeStyle = "#bbb";
  g.strokeRect(pad, top, w - 2 * pad, bottom - top);
  g.fillText(high.toFixed(2), 2, top + 8);
  g.fillText(low.toFixed(2), 2, bottom);
  g.fillText(`epoch (${unit || "loss"})`, w / 2 - 40, h - 6);
  for (const [key, colour] of [["loss", "#1f77b4"], ["val_loss", "#d62728"]]) {
    g.strokeStyle = g.fillStyle = colour;
    g.beginPath();
    history.forEach((e, i) => (i ? g.lineTo(x(i), y(e[key])) : g.moveTo(x(i), y(e[key]))));
    g.stroke();
    history.forEach((e, i) => g.fillRect(x(i) - 2, y(e[key]) - 2, 4, 4));
  }
  g.fillStyle = "#1f77b4"; g.fillText("training", w - pad - 110, 26);
  g.fillStyle = "#d62728"; g.fillText("validation", w - pad - 55, 26);
}

// -- the generate form ---------------------------------------------------------------------------
const MUSIC = ["seconds", "key", "key_bias", "programs", "title", "primer_upload"];
const VERSE = ["form", "rhyme", "syllables", "metre", "feet", "lines", "stanzas", "words", "time_limit", "primer"];
const COMMON = ["temperature", "top_k", "top_p", "seed", "length", "num_outputs", "weights"];
const LABELS = { top_k: "top-k", top_p: "top-p", key_bias: "key bias", num_outputs: "outputs",
  time_limit: "time limit (s)", primer_upload: "primer (MIDI file)", seconds: "seconds", title: "score title" };

function buildFields() {
  const box = $("fields");
  box.replaceChildren();
  const names = [...COMMON, ...(current.kind === "verse" ? VERSE : current.kind === "music" ? MUSIC : [])];
  for (const name of names) box.append(field(name));
}

function field(name) {
  const spec = GEN.sample[name] || { default: null, help: "" };
  const label = LABELS[name] || name;
  let input;
  if (name === "primer_upload") {
    input = element("input", { type: "file", name, accept: ".mid,.midi" });
  } else if (name === "key" && current.keys.length) {
    input = element("select", { name }, element("option", { value: "", text: "as the corpus draws them" }),
      ...current.keys.map((k) => element("option", { value: k, text: k })));
  } else if (spec.choices) {
    const options = spec.choices.map((c) => element("option", { value: c, text: c, selected: c === spec.default }));
    if (spec.default == null) options.unshift(element("option", { value: "", text: "-" }));
    input = element("select", { name }, ...options);
  } else if (name === "primer") {
    input = element("textarea", { name, rows: 2, placeholder: "text the poem continues" });
  } else {
    const numeric = ["rhyme", "syllables", "feet", "programs", "key", "title"].indexOf(name) < 0;
    input = element("input", { name, type: numeric ? "number" : "text", step: "any",
      value: spec.default ?? "", placeholder: placeholder(name) });
  }
  return element("label", { title: spec.help }, label, input);
}

// What an empty field means: a random seed, the corpus plugin's temperature.
function placeholder(name) {
  if (name === "seed") return "random";
  if (name === "temperature" && current.temperature != null) return `${current.temperature} (the corpus's)`;
  return "";
}

async function formValues(form) {
  const values = {};
  for (const input of form.elements) {
    if (!input.name) continue;
    if (input.type === "file") {
      if (!input.files.length) continue;
      const { folder, names } = await upload(input.files);
      values[input.name] = `${folder}/${names[0]}`;
    } else if (input.value !== "") values[input.name] = input.value;
  }
  return values;
}

async function upload(files) {
  let folder = null;
  const names = [];
  for (const file of files) {
    const dot = file.name.lastIndexOf(".");
    const suffix = dot > 0 ? file.name.slice(dot).toLowerCase().replace(/[^a-z0-9.]/g, "") : "";
    const stem = file.name.slice(0, dot > 0 ? dot : undefined).replace(/[^A-Za-z0-9_-]/g, "_").replace(/^[_-]+/, "").slice(0, 80);
    const name = `${stem || "upload"}-${names.length + 1}${suffix}`;
    const query = `name=${encodeURIComponent(name)}` + (folder ? `&folder=${encodeURIComponent(folder)}` : "");
    const done = await api(`/api/uploads?${query}`, file);
    folder = done.folder;
    names.push(done.name);
  }
  return { folder, names };
}

async function submitGenerate(event) {
  event.preventDefault();
  const status = $("generate-status");
  try {
    status.textContent = "uploading...";
    const values = await formValues($("generate-form"));
    await startGenerate(values);
  } catch (error) {
    showError(error);
  }
}

async function startGenerate(values) {
  const status = $("generate-status");
  status.className = "";
  status.textContent = "generating...";
  const { id } = await api(`/api/runs/${encodeURIComponent(current.name)}/generate`, values);
  await loadResults();
  watch(id);
}

function watch(id) {
  const run = current.name;
  const tick = async () => {
    if (!current || current.name !== run) return;
    const result = await api(`/api/runs/${encodeURIComponent(run)}/results/${id}`).catch(() => null);
    if (!result) return setTimeout(tick, 1000); // the server may be busy: ask again
    if (result.status === "queued" || result.status === "running") return setTimeout(tick, 300);
    $("generate-status").textContent = result.status === "done" ? "done" : result.error;
    $("generate-status").className = result.status === "done" ? "" : "error";
    await loadResults();
  };
  setTimeout(tick, 300);
}

// -- results -------------------------------------------------------------------------------------
async function loadResults() {
  const { results } = await api(`/api/runs/${encodeURIComponent(current.name)}/results`);
  const box = $("results");
  box.replaceChildren(...results.map(resultCard));
  if (!results.length) box.append(element("p", { class: "quiet", text: "nothing generated from this run yet" }));
}

function resultCard(result) {
  const changed = ([k, v]) => k !== "seed" && k !== "primer_upload" && String((GEN.sample[k] || {}).default) !== String(v);
  const settings = Object.entries(result.settings).filter(changed).map(([k, v]) => `${LABELS[k] || k} ${v}`).join(", ");
  const card = element("article", { class: `result ${result.status}`, "data-id": result.id },
    element("header", {},
      element("strong", { text: result.id }),
      element("span", { class: "quiet", text: ` seed ${result.seed ?? "?"}${settings ? "; " + settings : ""}` }),
      element("button", { type: "button", text: "Again", title: "the same settings and seed", onclick: () => again(result) }),
      element("button", { type: "button", text: "Delete", onclick: () => remove(result) })));
  if (result.status === "failed") card.append(element("p", { class: "error", text: result.error }));
  else if (result.status !== "done") card.append(element("p", { class: "quiet", text: `${result.status}...` }));
  for (const output of result.outputs || []) card.append(outputView(result, output));
  if (result.log && result.log.length && current.kind === "verse") {
    card.append(element("pre", { class: "report", text: result.log.filter((l) => !l.startsWith("wrote")).join("\n") }));
  }
  return card;
}

function outputView(result, output) {
  const box = element("div", { class: "output" });
  if (output.text !== undefined) box.append(element("pre", { class: "poem", text: output.text }));
  if (output.piano_roll) box.append(element("img", { class: "roll", alt: `piano roll of ${output.file}`, src: fileUrl(result, output.piano_roll) }));
  if (output.audio) box.append(element("audio", { controls: true, preload: "metadata", src: fileUrl(result, output.audio) }));
  if (output.audio_error) box.append(element("p", { class: "error", text: `no audio: ${output.audio_error}` }));
  const links = element("p", { class: "downloads" }, element("a", { href: fileUrl(result, output.file), download: output.file, text: output.file }));
  if (output.audio) links.append(" ", element("a", { href: fileUrl(result, output.audio), download: output.audio, text: output.audio }));
  if (current.kind === "music") {
    for (const format of ["musicxml", "pdf", "wav"]) {
      links.append(" ", element("button", { type: "button", text: { musicxml: "MusicXML", pdf: "PDF", wav: "WAV" }[format],
        onclick: (event) => exportAs(result, output, format, event.target) }));
    }
  }
  const figures = [output.seconds !== undefined ? `${output.seconds} s` : null, output.lines !== undefined ? `${output.lines} lines` : null,
    output.key ? `in ${output.key}` : null, output.copy_rate != null ? `copies ${(100 * output.copy_rate).toFixed(1)} %` : null].filter(Boolean);
  links.append(element("span", { class: "quiet", text: ` ${figures.join(", ")}` }));
  box.append(links);
  return box;
}

async function exportAs(result, output, format, button) {
  button.disabled = true;
  try {
    const { file } = await api(`/api/runs/${encodeURIComponent(current.name)}/results/${result.id}/export`, { file: output.file, format });
    button.replaceWith(element("a", { href: fileUrl(result, file), download: file, text: file }));
  } catch (error) {
    button.replaceWith(element("span", { class: "error", text: error.message }));
  }
}

function showError(error) {
  $("generate-status").textContent = error.message;
  $("generate-status").className = "error";
}

async function again(result) {
  await startGenerate({ ...result.settings, seed: result.seed ?? result.settings.seed }).catch(showError);
}

async function remove(result) {
  await api(`/api/runs/${encodeURIComponent(current.name)}/results/${result.id}/delete`, {})
    .then(loadResults).catch(showError);
}

// -- training ------------------------------------------------------------------------------------
function showTraining(status) {
  const state = $("train-state");
  state.className = status.state === "failed" ? "error" : "";
  state.textContent = status.state === "idle" ? "" :
    `${status.run}: ${status.state}${status.error ? ": " + status.error : ""}`;
  $("train-stop").disabled = status.state !== "running";
  $("train-start").disabled = status.state === "running" || status.state === "stopping";
  $("train-log").textContent = (status.lines || []).join("\n");
  $("train-curve").hidden = status.state === "idle";
  if (status.state !== "idle") drawCurve($("train-curve"), status.history, status.loss_unit);
  const epochs = (status.history || []).length;
  const changed = status.state !== showTraining.state || epochs !== showTraining.epochs;
  if (changed && status.state !== "idle") loadRuns().catch(() => {}); // its run, listed anew
  showTraining.epochs = epochs;
  showTraining.state = status.state;
}

async function startTraining(event) {
  event.preventDefault();
  const values = {};
  for (const input of $("train-form").elements) if (input.name && input.value !== "") values[input.name] = input.value;
  try {
    const files = $("train-files").files;
    if (files.length) values.upload = (await upload(files)).folder;
    showTraining(await api("/api/train", values).then(() => api("/api/train")));
  } catch (error) {
    $("train-state").textContent = error.message;
    $("train-state").className = "error";
  }
}

function listenTraining() {
  const events = new EventSource("/api/train/events");
  events.onmessage = (event) => showTraining(JSON.parse(event.data));
}

function setUp() {
  const select = $("train-corpus");
  for (const corpus of GEN.corpora) select.append(element("option", { value: corpus.name, text: `${corpus.name} (${corpus.kind || "tokens"})`, selected: corpus.name === "midi" }));
  $("train").hidden = false;
  $("new-training").addEventListener("click", () => $("train").scrollIntoView());
  $("generate-form").addEventListener("submit", submitGenerate);
  $("train-form").addEventListener("submit", startTraining);
  $("train-stop").addEventListener("click", () => api("/api/train/stop", {}).then(showTraining).catch((e) => ($("train-state").textContent = e.message)));
  $("train-resume").addEventListener("click", () => api("/api/train/resume", { run: current.name }).then(showTraining).catch((e) => ($("train-state").textContent = e.message)));
  if (location.search.includes("token=")) history.replaceState(null, "", "/"); // the cookie carries it now
  loadRuns().catch((error) => ($("runs").textContent = error.message));
  listenTraining();
}

setUp();
