// A shortened key or SHA-256 on the case page copies its whole value when clicked.
"use strict";
document.addEventListener("click", function (event) {
  const value = event.target.closest(".short-value[data-full]");
  if (!value || !navigator.clipboard) {
    return;
  }
  navigator.clipboard.writeText(value.dataset.full).then(function () {
    value.classList.add("copied");
    setTimeout(function () { value.classList.remove("copied"); }, 1200);
  });
});
