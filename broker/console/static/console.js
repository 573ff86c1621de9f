// Progressive enhancement only: every page works without it.
// Buttons marked data-print print the page (they are hidden without JS).
document.documentElement.classList.add("js");
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-print]");
  if (b) { window.print(); }
});
