// Small behaviours htmx does not cover. Kept tiny and dependency-free.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });
});
// htmx 2 does not swap 4xx/5xx answers by default; our error answers are fragments meant
// for the page (validation messages, conflicts), so swap 409 and 422 in place and let the
// server retarget others to #flash.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status === 409 || status === 422 || status === 400 || status === 403 || status === 404 || status >= 500) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
// A barcode scanner types like a keyboard: when nobody is typing in a field, its keys go to
// the scan box, so staff can scan without tapping the box first.
document.addEventListener("keydown", (event) => {
  const box = document.querySelector("[data-scan-box]");
  const typing = event.target.closest("input, select, textarea, [contenteditable]");
  // Space stays with a focused button; scanners type letters, digits and dashes.
  if (!box || typing || event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1 ||
      event.key === " ") return;
  box.focus();
});
// "Use UPS" beside a tracking number: pick that carrier in the package's carrier list.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-set-carrier]");
  if (!button) return;
  const select = button.closest(".tracking-fields").querySelector("select[name$='carrier']");
  select.value = button.dataset.setCarrier;
  select.dispatchEvent(new Event("change", { bubbles: true }));
});
