// Cascading province -> city -> district selects on the address form. The server renders the
// options for the current values (and validates); this only refills the lower selects on change.
(function () {
  "use strict";
  function fill(select, names, placeholder) {
    var current = select.value;
    select.innerHTML = "";
    var blank = document.createElement("option");
    blank.value = "";
    blank.textContent = placeholder;
    select.appendChild(blank);
    names.forEach(function (name) {
      var option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      if (name === current) { option.selected = true; }
      select.appendChild(option);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-regions-url]");
    if (!form) { return; }
    var province = form.querySelector("[data-region=province]");
    var city = form.querySelector("[data-region=city]");
    var district = form.querySelector("[data-region=district]");
    var placeholder = province.options.length ? province.options[0].textContent : "";
    fetch(form.getAttribute("data-regions-url"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (regions) {
        province.addEventListener("change", function () {
          var cities = Object.keys(regions[province.value] || {});
          fill(city, cities, placeholder);
          if (cities.length === 1) { city.value = cities[0]; }
          city.dispatchEvent(new Event("change"));
        });
        city.addEventListener("change", function () {
          var districts = ((regions[province.value] || {})[city.value]) || [];
          fill(district, districts, placeholder);
          if (districts.length === 1) { district.value = districts[0]; }
        });
      });
  });
})();
