"use strict";
// The one place a shared image waits on the phone: an IndexedDB entry, written by the
// service worker when the share arrives and deleted by the page as soon as the image
// has been checked (or the user discards it). Used by sw.js and app.js.
const shareStore = (() => {
  const DB = "phi_guard-share", STORE = "pending", KEY = "shared";
  function open() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  async function run(mode, action) {
    const db = await open();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = action(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req.result);
        tx.onerror = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }
  return {
    // {file: File, more: number of other files shared with it, at: ms since epoch}
    put: (entry) => run("readwrite", (s) => s.put(entry, KEY)),
    get: () => run("readonly", (s) => s.get(KEY)),
    clear: () => run("readwrite", (s) => s.delete(KEY)),
    count: () => run("readonly", (s) => s.count()),
  };
})();
