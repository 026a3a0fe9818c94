"use strict";
// Service worker: only catches the share sheet's POST to ./share. The shared image is
// kept in IndexedDB (not uploaded yet), and the phone is sent to the page (303), which
// screens it through the API. If the sign-in session expired, the proxy sends the
// page to the login first; the image is still here when the page comes back.
// Nothing else is intercepted or cached: every other request goes to the server.
importScripts("static/share-store.js");

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const shareUrl = new URL("share", self.registration.scope).href;
  if (event.request.method === "POST" && event.request.url.split("?")[0] === shareUrl) {
    event.respondWith(receiveShare(event.request));
  }
});

async function receiveShare(request) {
  const page = new URL("./", self.registration.scope);
  let files = [];
  try {
    files = (await request.formData()).getAll("file").filter((f) => typeof f !== "string" && f.size > 0);
  } catch (e) {
    files = [];
  }
  if (!files.length) {
    page.searchParams.set("share", "empty");
    return Response.redirect(page.href, 303);
  }
  // Only the file: the title, text and URL a share sheet adds may name the patient.
  await shareStore.put({ file: files[0], more: files.length - 1, at: Date.now() });
  page.searchParams.set("share", "pending");
  return Response.redirect(page.href, 303);
}
