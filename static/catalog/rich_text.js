/* The product description editor (catalog.widgets.RichTextarea): Quill 2 (static/vendor/quill)
   on every textarea[data-rich-text]. The textarea stays in the form, hidden, and remains the value
   that is posted: the editor writes its HTML into it only once the user has changed something, so
   an untouched description is posted exactly as it was loaded. Without JavaScript (or without
   Quill) the textarea is simply shown. The server sanitises whatever arrives. */
(function () {
  "use strict";

  // only formats whose HTML the server's allow-list keeps (catalog.services.ALLOWED_TAGS)
  var FORMATS = ["header", "bold", "italic", "underline", "strike", "list", "blockquote", "link", "image"];
  // HTML the editor cannot represent: such a description is left to the plain textarea
  var UNSUPPORTED = /<(table|figure|hr|sub|sup)\b/i;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) node.textContent = text;
    return node;
  }

  function toolbar(labels) {
    var bar = el("div", { role: "toolbar", "aria-label": labels.toolbar || "" });
    function group(items) {
      var span = el("span", { "class": "ql-formats" });
      items.forEach(function (item) { span.appendChild(item); });
      bar.appendChild(span);
    }
    function button(format, label, value) {
      var attrs = { type: "button", "class": "ql-" + format, "aria-label": label, title: label };
      if (value) attrs.value = value;
      return el("button", attrs);
    }
    var heading = el("select", { "class": "ql-header", "aria-label": labels.heading || "" });
    heading.appendChild(el("option", { value: "2" }, labels.h2));
    heading.appendChild(el("option", { value: "3" }, labels.h3));
    heading.appendChild(el("option", { selected: "" }, labels.normal));
    group([heading]);
    group([button("bold", labels.bold), button("italic", labels.italic), button("underline", labels.underline),
           button("strike", labels.strike)]);
    group([button("list", labels.ordered, "ordered"), button("list", labels.bullet, "bullet")]);
    group([button("blockquote", labels.blockquote), button("link", labels.link), button("image", labels.image)]);
    group([button("clean", labels.clean)]);
    return bar;
  }

  function currentHtml(quill) {
    if (quill.getText().trim() === "" && !quill.root.querySelector("img")) return "";
    // Quill 2.0.3's getSemanticHTML writes every space as &nbsp; (slab/quill#4509)
    return quill.getSemanticHTML().replace(/&nbsp;/g, " ");
  }

  function askImage(quill, labels) {
    // by address only: uploads belong to the product's images, and data: URLs are removed on save
    var url = window.prompt(labels.imagePrompt, "https://");
    if (url === null) return;
    url = url.trim();
    if (!/^https?:\/\/[^\s"'<>]+$/i.test(url)) {
      window.alert(labels.imageRefused);
      return;
    }
    var range = quill.getSelection(true);
    quill.insertEmbed(range.index, "image", url, "user");
    quill.setSelection(range.index + 1, 0, "silent");
  }

  function translateTooltip(quill, labels) {
    var tooltip = quill.theme.tooltip && quill.theme.tooltip.root;
    if (!tooltip) return;
    tooltip.setAttribute("data-visit", labels.visit);
    tooltip.setAttribute("data-enter", labels.enterLink);
    var action = tooltip.querySelector("a.ql-action");
    var remove = tooltip.querySelector("a.ql-remove");
    if (action) { action.setAttribute("data-edit", labels.edit); action.setAttribute("data-save", labels.save); }
    if (remove) remove.setAttribute("data-remove", labels.remove);
  }

  function mount(textarea) {
    var labels = {};
    try { labels = JSON.parse(textarea.getAttribute("data-rich-text") || "{}"); } catch (e) { /* English fallbacks */ }
    if (UNSUPPORTED.test(textarea.value)) {
      textarea.insertAdjacentElement("beforebegin", el("p", { "class": "catalog-rich__note" }, labels.unsupported));
      return;
    }
    var box = el("div", { "class": "catalog-rich" });
    var bar = toolbar(labels);
    var area = el("div", { "class": "catalog-rich__area" });
    box.appendChild(bar);
    box.appendChild(area);
    textarea.insertAdjacentElement("beforebegin", box);

    var quill = new window.Quill(area, {
      theme: "snow",
      formats: FORMATS,
      modules: {
        toolbar: { container: bar, handlers: { image: function () { askImage(quill, labels); } } },
        uploader: { handler: function () { /* dropped or pasted files: not by upload */ } },
      },
    });
    quill.setContents(quill.clipboard.convert({ html: textarea.value }), "silent");
    quill.history.clear();
    translateTooltip(quill, labels);

    var label = textarea.id && document.querySelector('label[for="' + textarea.id + '"]');
    if (label) {
      quill.root.setAttribute("aria-label", label.textContent.replace(/[:：]\s*$/, ""));
      label.addEventListener("click", function () { quill.focus(); });
    }
    textarea.hidden = true;
    textarea.classList.add("catalog-rich__source");

    quill.on("text-change", function () {
      textarea.value = currentHtml(quill);
    });
  }

  function init() {
    if (!window.Quill) return;  // the vendor file is missing: the plain textarea still works
    document.querySelectorAll("textarea[data-rich-text]").forEach(mount);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
