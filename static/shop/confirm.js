// WeUI confirmation dialogs and one submit per form, for every shopper page (loaded by
// shop/base.html; no inline script).
//
// A form with data-confirm="question", or a submit button with it (the button's wins), opens a
// weui-dialog before it is sent; data-confirm-ok / data-confirm-cancel / data-confirm-title name
// the buttons and the title, data-confirm-warn paints OK red (a deletion). Cancel, the mask or
// Escape keep everything as it was; the OK button sends the form as it would have been sent
// (htmx forms included). An element with hx-confirm gets the same dialog through htmx's own
// htmx:confirm event, instead of window.confirm.
// A form with data-submit-once is sent once: a second tap while the first is on its way does nothing.
// Without JavaScript the form simply posts: every action behind a dialog is safe to repeat on the
// server (a second delete, cancel or exchange changes nothing) and names what it did on the next page.
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function confirmDialog(options, onOk) {
    var root = el("div", "shop-dialog");
    root.setAttribute("role", "dialog");
    root.setAttribute("aria-modal", "true");
    root.appendChild(el("div", "weui-mask"));
    var dialog = el("div", "weui-dialog");
    if (options.title) {
      var head = el("div", "weui-dialog__hd");
      head.appendChild(el("strong", "weui-dialog__title", options.title));
      dialog.appendChild(head);
    }
    dialog.appendChild(el("div", "weui-dialog__bd", options.message));
    var foot = el("div", "weui-dialog__ft");
    var cancel = el("button", "weui-dialog__btn weui-dialog__btn_default", options.cancel || document.body.getAttribute("data-dialog-cancel"));
    var okClass = options.warn ? "weui-dialog__btn_warn" : "weui-dialog__btn_primary";
    var ok = el("button", "weui-dialog__btn " + okClass, options.ok || document.body.getAttribute("data-dialog-ok"));
    cancel.type = "button";
    ok.type = "button";
    cancel.setAttribute("data-dialog", "cancel");
    ok.setAttribute("data-dialog", "ok");
    foot.appendChild(cancel);
    foot.appendChild(ok);
    dialog.appendChild(foot);
    root.appendChild(dialog);
    document.body.appendChild(root);
    ok.focus();
    function close() { root.remove(); document.removeEventListener("keydown", onKey); }
    function onKey(event) { if (event.key === "Escape") { close(); } }
    document.addEventListener("keydown", onKey);
    cancel.addEventListener("click", close);
    root.querySelector(".weui-mask").addEventListener("click", close);
    ok.addEventListener("click", function () { close(); onOk(); });
  }

  function optionsOf(node) {
    return {
      message: node.getAttribute("data-confirm"),
      title: node.getAttribute("data-confirm-title"),
      ok: node.getAttribute("data-confirm-ok"),
      cancel: node.getAttribute("data-confirm-cancel"),
      warn: node.hasAttribute("data-confirm-warn"),
    };
  }

  // Capture phase: runs before htmx and before any page script's own submit handler (one submit
  // per form, ...), which then see only the confirmed submit.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    var submitter = event.submitter || null;
    var asker = submitter && submitter.hasAttribute("data-confirm") ? submitter
      : (form.hasAttribute("data-confirm") ? form : null);
    if (!asker || form.dataset.confirmed === "1") {
      delete form.dataset.confirmed;
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    confirmDialog(optionsOf(asker), function () {
      form.dataset.confirmed = "1";
      if (form.requestSubmit) { form.requestSubmit(submitter || undefined); } else { form.submit(); }
    });
  }, true);

  document.addEventListener("htmx:confirm", function (event) {
    var question = event.detail && event.detail.question;
    if (!question) { return; }
    event.preventDefault();
    var node = event.detail.elt;
    var options = optionsOf(node);
    options.message = question;
    confirmDialog(options, function () { event.detail.issueRequest(true); });
  });

  // Bubble phase: only a submit nobody refused (the dialog above stops the unconfirmed one).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-submit-once")) { return; }
    if (form.dataset.submitting === "1") { event.preventDefault(); return; }
    if (!event.defaultPrevented) { form.dataset.submitting = "1"; }
  });

  // back/forward cache: a page shown again asks again and may be sent again (the server's request
  // id or token makes a repeat safe)
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-confirmed]").forEach(function (form) { delete form.dataset.confirmed; });
    document.querySelectorAll("form[data-submitting]").forEach(function (form) { delete form.dataset.submitting; });
  });
})();
