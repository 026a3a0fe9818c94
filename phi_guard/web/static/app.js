"use strict";
// The page is a thin client of the HTTP API: POST v1/screen, show the answer, offer
// the safe copy to the phone's share sheet. URLs are relative so the app also works
// under a path prefix on a hospital's proxy.
const $ = (id) => document.getElementById(id);
const here = (path) => new URL(path, document.baseURI).href;
let apiKeyRequired = false;
const blobUrls = [];
let safeFile = null; // the safe copy: only in this page's memory

const PLAIN = {
  CLEAN: "Safe to share: nothing identifying was found in the picture. Hidden data was removed.",
  REDACTED: "Safe to share after masking: identifying text, faces and codes were covered. Check the picture below before you post it.",
  BLOCKED: "Do not share this image: phi_guard could not make it safe.",
  ERROR: "This file could not be checked.",
};
const ADVICE = {
  BLOCKED: [
    "Crop the picture so that labels, wristbands, screens and paperwork are out of it, and check it again.",
    "Or take the picture again with nothing identifying in view.",
    "Do not share the original. If you must send it, use your hospital's secure channel, not a messaging app.",
  ],
  ERROR: [
    "Check that it is a photo, a screenshot or a DICOM file, and try again.",
    "If it keeps failing, do not share it: phi_guard could not look at it.",
  ],
};

const configReady = fetch(here("v1/config"), { redirect: "manual" })
  .then((r) => (r.ok ? r.json() : {}))
  .then((cfg) => {
    apiKeyRequired = !!cfg.api_key_required;
    $("keybox").hidden = !apiKeyRequired;
  })
  .catch(() => {});

if ("serviceWorker" in navigator) {
  // Needed for the share target; it intercepts nothing but the share (see sw.js).
  navigator.serviceWorker.register(here("sw.js"), { scope: here("./") }).catch(() => {});
}

function headers() {
  const h = {};
  if (apiKeyRequired) h["X-API-Key"] = $("apikey").value;
  return h;
}

function status(text) {
  $("status").textContent = text;
}

// Screen a file. Returns "done" (there is an answer, shown), or "signin" when the
// sign-in proxy wants a new login (the caller keeps the file for later).
async function screen(file) {
  $("result").hidden = true;
  $("kept").hidden = true;
  status(`Checking ${file.name || "the image"} ...`);
  const body = new FormData();
  body.append("file", file);
  if ($("style").value) body.append("style", $("style").value);
  body.append("max_side", $("size").value);
  body.append("include_image", "false");
  let resp, data;
  try {
    resp = await fetch(here("v1/screen"), { method: "POST", body, headers: headers(), redirect: "manual" });
    if (resp.type === "opaqueredirect" || (resp.status === 401 && !apiKeyRequired)) return "signin";
    data = await resp.json();
  } catch (e) {
    status("The server did not answer. Check your connection (or that phi-guard serve is running) and try again.");
    return "failed";
  }
  status("");
  if (!resp.ok) {
    const err = data.error || { message: "unknown error" };
    await show({ verdict: "ERROR", reasons: [err.message], report: { findings: [], metadata: [] } });
  } else {
    await show(data);
  }
  return "done";
}

function items(list) {
  return list.map((t) => Object.assign(document.createElement("li"), { textContent: t }));
}

async function show(data) {
  $("result").hidden = false;
  $("again").hidden = false;
  $("intro").hidden = true;
  const v = $("verdict");
  v.className = "verdict " + data.verdict;
  v.textContent = PLAIN[data.verdict] || data.verdict;
  const reasons = [...data.reasons];
  if (data.more_files) reasons.push(`You shared ${data.more_files + 1} images: only the first was checked. Share them one at a time.`);
  $("reasons").replaceChildren(...items(reasons));
  const tbody = $("findings").querySelector("tbody");
  tbody.replaceChildren(...(data.report.findings || []).map((f) => {
    const tr = document.createElement("tr");
    for (const t of [f.kind, f.masked_value, f.where]) tr.appendChild(Object.assign(document.createElement("td"), { textContent: t }));
    return tr;
  }));
  const carriers = {};
  for (const m of data.report.metadata || []) if (m.phi_risk) carriers[m.carrier] = (carriers[m.carrier] || 0) + 1;
  $("metadata").replaceChildren(...items(Object.entries(carriers).map(([c, n]) => `${c}: ${n} item(s)`)));
  $("advice").hidden = !ADVICE[data.verdict];
  $("advice-list").replaceChildren(...items(ADVICE[data.verdict] || []));
  while (blobUrls.length) URL.revokeObjectURL(blobUrls.pop());
  safeFile = null;
  const safe = data.image_url && data.verdict !== "BLOCKED";
  $("share-row").hidden = $("download-row").hidden = true;
  $("video-fig").hidden = true;
  $("video").removeAttribute("src");
  if (safe) {
    // Fetched now, not on the tap: a share must start right after the tap.
    const r = await fetch(here("." + data.image_url), { headers: headers() });
    if (r.ok) {
      safeFile = new File([await r.blob()], data.image.filename, { type: data.image.media_type || "application/octet-stream" });
      const a = $("download");
      a.href = blobUrl(safeFile);
      a.setAttribute("download", safeFile.name);
      if (safeFile.type.startsWith("video/")) {
        // A clip plays here as it will be shared: the safe copy itself, not a still.
        $("video").src = a.href;
        $("video-fig").hidden = false;
      }
      // No share sheet (a computer): the download alone.
      $("share-row").hidden = !navigator.share;
      $("download-row").hidden = false;
    } else {
      reasons.push("The safe copy has expired on the server: check the image again.");
      $("reasons").replaceChildren(...items(reasons));
    }
  }
  if (data.report && data.report.schema_version) {
    $("report").href = blobUrl(new Blob([JSON.stringify(data.report, null, 2)], { type: "application/json" }));
    $("report-row").hidden = false;
  } else {
    $("report-row").hidden = true;
  }
  if (safe && data.preview_png_base64) {
    $("preview").src = "data:image/png;base64," + data.preview_png_base64;
    $("preview-fig").hidden = false;
  } else {
    $("preview-fig").hidden = true;
  }
  v.scrollIntoView({ block: "start" });
  v.focus({ preventScroll: true });
}

function blobUrl(blob) {
  const url = URL.createObjectURL(blob);
  blobUrls.push(url);
  return url;
}

$("share").addEventListener("click", async () => {
  if (!safeFile) return;
  const files = [safeFile];
  if (navigator.share && (!navigator.canShare || navigator.canShare({ files }))) {
    try {
      await navigator.share({ files });
      status("Shared. The safe copy stays only in this page until you close it.");
    } catch (e) {
      if (e.name !== "AbortError") $("download").click();
    }
  } else {
    $("download").click(); // no share sheet here (a computer): download instead
  }
});

// A share from another app: the service worker stored the file and sent us here.
async function takeSharedFile() {
  const entry = await shareStore.get().catch(() => undefined);
  if (!entry) {
    status("The shared image is no longer on this phone (it is deleted once checked). Share it again.");
    return;
  }
  await configReady;
  const outcome = await screen(entry.file);
  if (outcome === "signin") {
    status("");
    $("pending").hidden = false;
    return;
  }
  if (outcome !== "done") return;
  await shareStore.clear();
  history.replaceState(null, "", here("./"));
  keptNote("The shared image has been deleted from this phone.");
}

function keptNote(text) {
  $("kept").hidden = false;
  $("kept").textContent = safeFile ? `${text} The safe copy lives only in this page until you close it.` : text;
}

// Through the sign-in (the proxy sends the browser there and back), then on with the held file.
$("resume").addEventListener("click", () => { location.href = here("./?share=pending"); });
$("discard").addEventListener("click", async () => {
  await shareStore.clear();
  $("pending").hidden = true;
  history.replaceState(null, "", here("./"));
  status("The shared image was discarded.");
});

const params = new URLSearchParams(location.search);
const serverResult = JSON.parse($("server-result").textContent);
if (serverResult) {
  // The server screened a share itself (no service worker caught it).
  if (serverResult.error) show({ verdict: "ERROR", reasons: [serverResult.error.message], report: { findings: [], metadata: [] } });
  else show(serverResult).then(() => keptNote("Nothing of the shared image was kept on this phone."));
} else if (params.get("share") === "pending") {
  takeSharedFile();
} else if (params.get("share") === "empty") {
  status("Nothing to check: share an image (photo, screenshot or DICOM file).");
}

for (const id of ["file", "camera"]) {
  $(id).addEventListener("change", (e) => {
    if (e.target.files[0]) screen(e.target.files[0]);
    e.target.value = "";
  });
}
const drop = $("drop");
drop.addEventListener("keydown", (e) => { if (e.target === drop && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); $("file").click(); } });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) screen(e.dataTransfer.files[0]);
});
