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
