// Small behaviours htmx does not cover. Kept tiny and dependency-free.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });
});
// htmx 2 does not swap 4xx/5xx answers by default. fulfil's own error answers are meant
// for the page: 409 and 422 are the row or form drawn again with the reason, other 4xx
// fragments say what was wrong, and the 5xx answers fulfil draws are retargeted by the
// server to #flash (HX-Retarget). An error body fulfil did not draw (a proxy's 502,
// gunicorn's bare 500, a full error page) is never swapped into the row: the row stays
// as it was, and #flash says what happened.
function flashError(text) {
  const flash = document.getElementById("flash");
  if (!flash) return;
  const box = document.createElement("div");
  box.className = "flash error";
  box.setAttribute("role", "alert");
  box.textContent = text + " ";
  const reload = document.createElement("a");
  reload.className = "btn small";
  reload.href = window.location.href;
  reload.textContent = "Reload";
  box.appendChild(reload);
  flash.replaceChildren(box);
}
function isFullPage(xhr) {
  return /^\s*(<!doctype|<html)/i.test(xhr.responseText || "");
}
document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  const status = xhr.status;
  if (status < 400) return;
  // 4xx answers are fulfil's own fragments; a 5xx is, only when fulfil retargeted it.
  const ours = status < 500 || xhr.getResponseHeader("HX-Retarget");
  if (ours && !isFullPage(xhr)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
    return;
  }
  event.detail.shouldSwap = false;
  const unsafe = event.detail.requestConfig && event.detail.requestConfig.verb !== "get";
  flashError(status >= 500
    ? `fulfil could not answer (error ${status}). ` +
      (unsafe ? "Your change may not have been saved: reload to see whether it was." : "Try again in a moment.")
    : `That did not work (error ${status}). Reload the page and try again.`);
});
// No answer at all (the server is down or the network is gone): say so, keep the page.
document.addEventListener("htmx:sendError", (event) => {
  const unsafe = event.detail.requestConfig && event.detail.requestConfig.verb !== "get";
  flashError("fulfil is not reachable. " +
    (unsafe ? "Your change may not have been saved: reload to see whether it was." : "Try again in a moment."));
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
