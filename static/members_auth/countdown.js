/* The login page's "重新发送验证码": disabled with a countdown until the server will send again
   (data-countdown = seconds left, data-countdown-label = "{s} 秒后可重新发送"). The server checks
   the same wait; this only saves a pointless tap. No inline script: loaded as a file (CSP). */
(function () {
  "use strict";
  function start(button) {
    var left = parseInt(button.getAttribute("data-countdown"), 10) || 0;
    var label = button.textContent;
    var template = button.getAttribute("data-countdown-label") || "{s}";
    function tick() {
      if (left <= 0) {
        button.disabled = false;
        button.textContent = label;
        return;
      }
      button.disabled = true;
      button.textContent = template.replace("{s}", String(left));
      left -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
  }
  function init() {
    var buttons = document.querySelectorAll("button[data-countdown]");
    for (var i = 0; i < buttons.length; i++) start(buttons[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
