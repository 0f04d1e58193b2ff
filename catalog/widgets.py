"""Admin widgets of the catalogue.

RichTextarea: a plain <textarea> that static/catalog/rich_text.js turns into a Quill 2 editor
(static/vendor/quill, built from the npm registry by scripts/build_assets.sh; no CDN). Without
JavaScript it stays a textarea of HTML. The editor writes its HTML back into the textarea only
once the user has changed something, so saving an untouched product never rewrites its
description; the server sanitises whatever arrives (catalog.services.sanitize_description), the
editor being a convenience, not a filter.
"""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

# Quill's own labels are English CSS text; rich_text.js puts these on its toolbar and tooltip
EDITOR_LABELS = {
    "toolbar": _("格式工具栏"),
    "bold": _("加粗"),
    "italic": _("斜体"),
    "underline": _("下划线"),
    "strike": _("删除线"),
    "ordered": _("编号列表"),
    "bullet": _("项目符号列表"),
    "blockquote": _("引用"),
    "link": _("链接"),
    "image": _("图片"),
    "clean": _("清除格式"),
    "heading": _("段落样式"),
    "normal": _("正文"),
    "h2": _("大标题"),
    "h3": _("小标题"),
    "visit": _("访问链接："),
    "enterLink": _("输入链接："),
    "edit": _("编辑"),
    "remove": _("移除"),
    "save": _("保存"),
    "imagePrompt": _("图片地址（以 https:// 开头）："),
    "imageRefused": _("只能插入以 http:// 或 https:// 开头的图片地址"),
    "unsupported": _("本详情含有表格，编辑器无法保留表格：请直接编辑下面的 HTML"),
}


class RichTextarea(forms.Textarea):
    """A textarea of sanitised HTML edited with Quill (headings, bold, italics, underline,
    strike-through, lists, quotes, links, images by URL)."""

    class Media:
        css = {"all": ("vendor/quill/quill.snow.css", "catalog/admin.css")}
        js = (forms.Script("vendor/quill/quill.js", defer=True), forms.Script("catalog/rich_text.js", defer=True))

    def __init__(self, attrs=None):
        super().__init__({"rows": 14, "cols": 80, **(attrs or {})})

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"]["data-rich-text"] = json.dumps(
            {key: str(text) for key, text in EDITOR_LABELS.items()}, ensure_ascii=False
        )
        return context
