// The warehouse floor in the browser: a scanner that always lands somewhere, focus that
// stays where the work goes on, a loud alarm on a miss, batch selection, print buttons.
// A barcode scanner is a keyboard that types fast and presses Enter.
(function () {
  "use strict";
  const RESET_AFTER_MS = 1500; // a pause longer than this starts a new scan
  let buffer = "";
  let last = 0;

  function typingInField(target) {
    return target && target.closest && target.closest("input, select, textarea, [contenteditable]");
  }

  // Pages without a scan box (an order page, the supervisor's, sync problems...): collect
  // what the scanner types and open whatever it names. Pages with a scan box hand their
  // keys to it (app.js); this only adds that the box's old text is replaced, not extended.
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typingInField(event.target)) return;
    const box = document.querySelector("[data-scan-box]");
    if (box) {
      if (event.key.length === 1 && event.key !== " " && document.activeElement !== box) box.select();
      return;
    }
    const now = Date.now();
    if (now - last > RESET_AFTER_MS) buffer = "";
    last = now;
    if (event.key === "Enter") {
      if (buffer.length >= 3) {
        event.preventDefault();
        window.location.assign("/floor/scan?code=" + encodeURIComponent(buffer));
      }
      buffer = "";
    } else if (event.key.length === 1 && event.key !== " ") {
      buffer += event.key;
    }
  }, true);

  // A loud miss: a low double beep, so a packer looking at the parcel hears it.
  function alarm() {
    const AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!AudioContext) return;
    try {
      const audio = new AudioContext();
      [0, 0.25].forEach((start) => {
        const tone = audio.createOscillator();
        const gain = audio.createGain();
        tone.type = "square";
        tone.frequency.value = 220;
        gain.gain.value = 0.3;
        tone.connect(gain).connect(audio.destination);
        tone.start(audio.currentTime + start);
        tone.stop(audio.currentTime + start + 0.18);
      });
    } catch (e) { /* no sound available: the red message still says it */ }
  }
  function visible(el) { return el && el.offsetParent !== null; }
  // A scan box lives only while there is something to scan into it (data-while).
  function syncScanForms() {
    document.querySelectorAll("form[data-scan-queue][data-while]").forEach((form) => {
      const live = document.querySelector(form.dataset.while) !== null;
      form.hidden = !live;
      form.querySelectorAll("input[name=code]").forEach((box) => box.toggleAttribute("data-scan-box", live));
    });
  }
  function afterDraw(root) {
    syncScanForms();
    if (root.querySelector("[data-alarm]") || root.querySelector(".flash.error")) alarm();
    // Work goes on in the scan box (or the tracking field once the parcel is packed);
    // its text is selected, so the next scan replaces a missed one instead of joining it.
    const box = Array.from(root.querySelectorAll("[autofocus], [data-scan-box]")).find(visible);
    if (box && !typingInField(document.activeElement)) {
      box.focus();
      if (box.value) box.select();
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    if (document.querySelector("[data-alarm], .flash.error")) alarm();
  });
  document.addEventListener("htmx:afterSettle", () => afterDraw(document));

  // Scan forms send their scans one after another, in order, and empty the box at once:
  // a scan typed while the previous one is on its way is never lost or glued to it.
  let chain = Promise.resolve();
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-scan-queue]");
    if (!form || !window.htmx) return;  // without htmx the form posts as a plain form
    event.preventDefault();
    const box = form.querySelector("input[name=code]");
    const code = box.value.trim();
    box.value = "";
    box.focus();
    if (!code) return;
    const values = { code: code, csrf_token: form.querySelector("[name=csrf_token]").value };
    chain = chain.then(() => window.htmx.ajax("POST", form.action,
      { target: form.dataset.target, swap: "outerHTML", values: values, source: document.body }))
      .catch(() => {});
  });
  // After a miss in a list's scan box the page comes back with the text in it: select it,
  // so the next scan replaces it.
  document.addEventListener("DOMContentLoaded", () => {
    const box = document.querySelector("[data-scan-box]");
    if (box && box.value && document.activeElement === box) box.select();
  });

  // "Ship" opens a form: put the cursor in its tracking field, ready for the scanner.
  document.addEventListener("htmx:afterSettle", (event) => {
    const field = event.detail.target && event.detail.target.querySelector &&
      event.detail.target.querySelector("input[name$='tracking_number']");
    if (field && !typingInField(document.activeElement)) field.focus();
  });

  // Batch selection: "All" ticks every box of its group; the bar says how many are ticked.
  document.addEventListener("change", (event) => {
    const all = event.target.closest("[data-select-all]");
    const form = event.target.closest("form");
    if (!form) return;
    const name = all ? all.dataset.selectAll : event.target.name;
    const boxes = form.querySelectorAll(`input[type=checkbox][name="${name}"]`);
    if (all) boxes.forEach((box) => { box.checked = all.checked; });
    const count = form.querySelector("[data-selected-count]");
    if (count && boxes.length) {
      const ticked = Array.from(boxes).filter((box) => box.checked).length;
      count.textContent = ticked ? `${ticked} selected` : `${boxes.length} ${boxes.length === 1 ? "order" : "orders"}`;
    }
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-print]")) window.print();
  });
})();
