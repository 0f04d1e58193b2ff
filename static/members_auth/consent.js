/* The login page's consent (用户协议 / 隐私政策), asked in a WeUI dialog: tapping 获取验证码 or
   微信一键登录 with the box unticked opens the dialog instead of posting; 同意并继续 ticks the box and
   sends the same button's form, 不同意 closes it and nothing is sent. Without this script the server
   refuses the unticked form with the same words, so the rule never depends on it. Loaded as a file (CSP). */
(function () {
  "use strict";
  function init() {
    var dialog = document.querySelector("[data-consent-dialog]");
    var box = document.querySelector("input[name=agree]");
    if (!dialog || !box || !box.form) return;
    var form = box.form;
    var pending = null;
    function close() {
      dialog.hidden = true;
      pending = null;
    }
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      var asks = button && (button.value === "send" || button.getAttribute("formaction"));
      if (!asks || box.checked) return;
      event.preventDefault();
      pending = button;
      dialog.hidden = false;
      var agree = dialog.querySelector("[data-consent=yes]");
      if (agree) agree.focus();
    });
    dialog.addEventListener("click", function (event) {
      var choice = event.target.closest("[data-consent]");
      if (!choice) return;
      var button = pending;
      close();
      if (choice.getAttribute("data-consent") !== "yes" || !button) return;
      box.checked = true;
      if (form.requestSubmit) form.requestSubmit(button);
      else button.click();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !dialog.hidden) close();
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
