// Home page carousel (templates/marketing/partials/_home_top.html): the track scrolls with CSS
// scroll-snap by itself; this keeps the dots in step and turns to the next slide every few
// seconds while nobody touches it (never for people who ask for reduced motion).
(function () {
  "use strict";
  var INTERVAL = 4000;
  function init(carousel) {
    var track = carousel.querySelector("[data-mk-track]");
    var dots = carousel.querySelectorAll("[data-mk-dot]");
    if (!track || dots.length < 2) { return; }
    var current = 0;
    function show(index) {
      current = index;
      dots.forEach(function (dot, i) { dot.classList.toggle("is-on", i === index); });
    }
    track.addEventListener("scroll", function () {
      show(Math.round(track.scrollLeft / Math.max(track.clientWidth, 1)));
    }, { passive: true });
    dots.forEach(function (dot, i) {
      dot.addEventListener("click", function (event) {
        event.preventDefault();
        track.scrollTo({ left: i * track.clientWidth });
      });
    });
    if (window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches) { return; }
    var paused = false;
    ["touchstart", "pointerdown", "focusin"].forEach(function (name) {
      carousel.addEventListener(name, function () { paused = true; }, { passive: true });
    });
    window.setInterval(function () {
      if (paused || document.hidden) { return; }
      track.scrollTo({ left: ((current + 1) % dots.length) * track.clientWidth });
    }, INTERVAL);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-mk-carousel]").forEach(init);
  });
})();
