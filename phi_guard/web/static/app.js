"use strict";
// The page is a thin client of the HTTP API: POST /v1/screen, show the answer.
const $ = (id) => document.getElementById(id);
let apiKeyRequired = false;
let lastUrl = null;

fetch("/v1/config").then((r) => r.json()).then((cfg) => {
  apiKeyRequired = cfg.api_key_required;
  $("keybox").hidden = !apiKeyRequired;
});

function headers() {
  const h = {};
  if (apiKeyRequired) h["X-API-Key"] = $("apikey").value;
  return h;
}

const PLAIN = {
  CLEAN: "Safe to share: nothing identifying was found in the picture. Hidden data was removed.",
  REDACTED: "Safe to share after masking: identifying text was covered. Check the picture below before you post it.",
  BLOCKED: "Do not share this image: phi_guard could not make it safe.",
  ERROR: "This file could not be checked.",
};

async function screen(file) {
  $("result").hidden = true;
  $("status").textContent = `Checking ${file.name} ...`;
  const body = new FormData();
  body.append("file", file);
  if ($("style").value) body.append("style", $("style").value);
  body.append("include_image", "false");
  let resp, data;
  try {
    resp = await fetch("/v1/screen", { method: "POST", body, headers: headers() });
    data = await resp.json();
  } catch (e) {
    $("status").textContent = "The server did not answer. Is phi-guard serve still running?";
    return;
  }
  $("status").textContent = "";
  if (!resp.ok) {
    const err = (data.error || (data.detail && data.detail.error) || { message: "unknown error" });
    show({ verdict: "ERROR", reasons: [err.message], report: { findings: [], metadata: [] } });
    return;
  }
  show(data);
}

function show(data) {
  $("result").hidden = false;
  const v = $("verdict");
  v.className = "verdict " + data.verdict;
  v.textContent = PLAIN[data.verdict] || data.verdict;
  const reasons = $("reasons");
  reasons.replaceChildren(...data.reasons.map((r) => Object.assign(document.createElement("li"), { textContent: r })));
  const tbody = $("findings").querySelector("tbody");
  tbody.replaceChildren(...(data.report.findings || []).map((f) => {
    const tr = document.createElement("tr");
    for (const t of [f.kind, f.masked_value, f.where]) tr.appendChild(Object.assign(document.createElement("td"), { textContent: t }));
    return tr;
  }));
  const carriers = {};
  for (const m of data.report.metadata || []) if (m.phi_risk) carriers[m.carrier] = (carriers[m.carrier] || 0) + 1;
  $("metadata").replaceChildren(...Object.entries(carriers).map(([c, n]) => Object.assign(document.createElement("li"), { textContent: `${c}: ${n} item(s)` })));
  if (lastUrl) URL.revokeObjectURL(lastUrl);
  lastUrl = null;
  if (data.image_url && data.verdict !== "BLOCKED") {
    $("download-row").hidden = false;
    const a = $("download");
    a.setAttribute("download", data.image.filename);
    a.href = "#";
    a.onclick = async (ev) => {
      if (lastUrl) return; // already a blob link: let the browser download it
      ev.preventDefault();
      const r = await fetch(data.image_url, { headers: headers() });
      lastUrl = URL.createObjectURL(await r.blob());
      a.href = lastUrl;
      a.click();
    };
  } else {
    $("download-row").hidden = true;
  }
  if (data.preview_png_base64) {
    $("preview").src = "data:image/png;base64," + data.preview_png_base64;
    $("preview-fig").hidden = false;
  } else {
    $("preview-fig").hidden = true;
  }
  v.focus && v.setAttribute("tabindex", "-1");
}

$("file").addEventListener("change", (e) => { if (e.target.files[0]) screen(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) screen(e.dataTransfer.files[0]);
});
