// Address form: "使用当前位置" fills the hidden latitude/longitude inputs from the browser's
// geolocation (inside WeChat too: plain navigator.geolocation, no JS-SDK needed), so same-city
// delivery can measure the distance to the store. The server validates the pair. A saved
// position belongs to the saved region: changing the region forgets it (the server does the same).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-locate]");
    if (!box) { return; }
    var form = box.closest("form");
    var lat = form.querySelector("input[name=latitude]");
    var lng = form.querySelector("input[name=longitude]");
    var status = box.querySelector("[data-locate-status]");
    var button = box.querySelector("[data-locate-button]");
    var clear = box.querySelector("[data-locate-clear]");
    var locatedHere = false;

    function located() { return lat.value !== "" && lng.value !== ""; }

    function show(label) {
      status.textContent = status.dataset[label];
      clear.hidden = !located();
      box.classList.toggle("is-located", located());
    }

    function forget(label) {
      lat.value = "";
      lng.value = "";
      locatedHere = false;
      show(label);
    }

    button.addEventListener("click", function () {
      if (!navigator.geolocation) { show("unsupportedLabel"); return; }
      button.disabled = true;
      show("locatingLabel");
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          lat.value = pos.coords.latitude.toFixed(6);
          lng.value = pos.coords.longitude.toFixed(6);
          locatedHere = true;
          button.disabled = false;
          show("locatedLabel");
        },
        function () {
          button.disabled = false;
          show("failedLabel");
        },
        { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
      );
    });

    clear.addEventListener("click", function () { forget("emptyLabel"); });

    Array.prototype.forEach.call(form.querySelectorAll("[data-region]"), function (select) {
      select.addEventListener("change", function () {
        if (located() && !locatedHere) { forget("staleLabel"); }
      });
    });
  });
})();
