"""Product pictures for the demo catalogue, drawn with Pillow at seed time (nothing is downloaded).

Each sub-category has a kind of goods (a wine bottle, a can, a bag of snacks, a fruit, a T-shirt…);
`product_picture(kind, name)` draws that object shaded as a solid (a cylinder's light band, a box's
three faces, a fruit's round highlight) with a soft shadow on a pale backdrop, in colours picked
from the product's name, so every product looks different and every picture looks like goods.
Drawn at twice the size and scaled down, which smooths the edges.
"""

import hashlib
import io
import math
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
SCALE = 2

# sub-category -> the kind of object its goods are drawn as
KIND_BY_CATEGORY = {
    "休闲零食": "snack_bag", "饮料冲调": "drink_bottle", "粮油调味": "sack",
    "白酒": "baijiu", "葡萄酒": "wine", "啤酒": "can",
    "面部护肤": "dropper", "洗发护发": "pump", "口腔护理": "tube",
    "收纳整理": "box", "厨房用品": "pot", "清洁用品": "jug",
    "奶粉辅食": "tin", "尿裤湿巾": "soft_pack", "童装": "tshirt",
    "水果": "fruit", "蔬菜": "vegetable", "肉禽蛋": "eggs",
    "男装": "tshirt", "女装": "dress", "箱包": "suitcase",
}

# colours that suit each kind (the product's name picks one)
HUES = {
    "snack_bag": [(230, 126, 34), (211, 84, 0), (241, 196, 15), (192, 57, 43)],
    "drink_bottle": [(52, 152, 219), (46, 204, 113), (155, 89, 182), (26, 188, 156)],
    "sack": [(222, 196, 150), (205, 170, 120), (236, 220, 180)],
    "baijiu": [(192, 57, 43), (231, 236, 240), (160, 30, 40)],
    "wine": [(90, 20, 40), (40, 60, 40), (60, 20, 30)],
    "can": [(39, 174, 96), (41, 128, 185), (211, 84, 0), (192, 57, 43)],
    "dropper": [(236, 160, 170), (200, 170, 220), (240, 200, 150)],
    "pump": [(52, 152, 219), (142, 68, 173), (22, 160, 133), (236, 240, 241)],
    "tube": [(236, 240, 241), (52, 152, 219), (231, 76, 60)],
    "box": [(149, 165, 166), (93, 173, 226), (200, 200, 200)],
    "pot": [(44, 62, 80), (127, 140, 141), (192, 57, 43)],
    "jug": [(93, 173, 226), (155, 89, 182), (46, 204, 113)],
    "tin": [(241, 196, 15), (52, 152, 219), (236, 240, 241)],
    "soft_pack": [(93, 173, 226), (162, 217, 206), (250, 215, 160)],
    "tshirt": [(236, 240, 241), (44, 62, 80), (149, 165, 166), (192, 57, 43)],
    "fruit": [(142, 180, 50), (214, 48, 49), (253, 203, 110), (225, 60, 80)],
    "vegetable": [(39, 174, 96), (106, 176, 76), (200, 160, 100)],
    "eggs": [(245, 222, 200), (230, 190, 160)],
    "dress": [(93, 173, 226), (241, 196, 15), (232, 160, 180)],
    "suitcase": [(44, 62, 80), (52, 152, 219), (189, 195, 199)],
}


def font(size):
    """The CJK font at `size` (WenQuanYi Micro Hei, Debian's fonts-wqy-microhei), or None without it."""
    if not FONT_PATH.exists():
        return None
    try:
        return ImageFont.truetype(str(FONT_PATH), size)
    except OSError:
        return None


def _pick(seq, name, salt=""):
    digest = hashlib.md5((salt + name).encode()).digest()
    return seq[digest[0] % len(seq)]


def _mix(colour, other, t):
    return tuple(int(a + (b - a) * t) for a, b in zip(colour, other, strict=True))


def _lighter(colour, t):
    return _mix(colour, (255, 255, 255), t)


def _darker(colour, t):
    return _mix(colour, (0, 0, 0), t)


def _cylinder_fill(size, colour):
    """A fill shaded like a lit cylinder: lightest left of centre, darker towards both edges."""
    width, height = size
    dark, light = _darker(colour, 0.38), _lighter(colour, 0.32)
    row = Image.new("RGB", (256, 1))
    for x in range(256):
        t = max(0.0, math.cos((x / 255 - 0.38) * math.pi * 0.9))
        row.putpixel((x, 0), _mix(dark, light, t**1.5))
    return row.resize((width, height), Image.BILINEAR)


def _round_fill(size, colour):
    """A fill shaded like a lit sphere: a highlight up and to the left, darker towards the rim."""
    width, height = size
    glow = Image.radial_gradient("L").resize((width * 2, height * 2), Image.BILINEAR)
    left, top = int(width * 0.62), int(height * 0.65)  # the gradient's centre falls at (38%, 35%)
    glow = glow.crop((left, top, left + width, top + height)).point(lambda v: min(255, int(v * 1.5)))
    light, dark = Image.new("RGB", size, _lighter(colour, 0.5)), Image.new("RGB", size, _darker(colour, 0.4))
    return Image.composite(dark, light, glow)


class Canvas:
    """The picture being drawn, at SCALE × its final size; shapes are laid on with a fill and a mask."""

    def __init__(self, size, backdrop):
        self.size = size * SCALE
        top, bottom = _lighter(backdrop, 0.88), _lighter(backdrop, 0.72)
        column = Image.new("RGB", (1, 256))
        for y in range(256):
            column.putpixel((0, y), _mix(top, bottom, y / 255))
        self.image = column.resize((self.size, self.size), Image.BILINEAR)

    def s(self, value):
        """A length given as a fraction of the picture's side."""
        return int(value * self.size)

    def box(self, x0, y0, x1, y1):
        return (self.s(x0), self.s(y0), self.s(x1), self.s(y1))

    def mask(self):
        return Image.new("L", (self.size, self.size), 0)

    def lay(self, mask, fill):
        if isinstance(fill, tuple):
            fill = Image.new("RGB", (self.size, self.size), fill)
        elif fill.size != (self.size, self.size):
            bbox = mask.getbbox()
            if bbox is None:
                return
            sized = fill.resize((bbox[2] - bbox[0], bbox[3] - bbox[1]), Image.BILINEAR)
            fill = Image.new("RGB", (self.size, self.size))
            fill.paste(sized, bbox[:2])
        self.image.paste(fill, (0, 0), mask)

    def shape(self, draw_fn, fill, shading="cylinder"):
        """Draw a mask with `draw_fn(ImageDraw)` and lay it on, shaded over its own bounding box."""
        mask = self.mask()
        draw_fn(ImageDraw.Draw(mask))
        bbox = mask.getbbox()
        if bbox is None:
            return mask
        size = (bbox[2] - bbox[0], bbox[3] - bbox[1])
        if shading == "cylinder":
            shaded = _cylinder_fill(size, fill)
        elif shading == "round":
            shaded = _round_fill(size, fill)
        else:
            shaded = Image.new("RGB", size, fill)
        self.lay(mask, shaded)
        return mask

    def shadow(self, x0, y0, x1, y1, strength=90):
        mask = self.mask()
        ImageDraw.Draw(mask).ellipse(self.box(x0, y0, x1, y1), fill=strength)
        mask = mask.filter(ImageFilter.GaussianBlur(self.s(0.025)))
        self.lay(mask, (60, 60, 70))

    def gloss(self, x0, y0, x1, y1, alpha=70):
        """A soft white highlight (a reflection on glass, plastic or metal)."""
        mask = self.mask()
        ImageDraw.Draw(mask).rounded_rectangle(self.box(x0, y0, x1, y1), radius=self.s(0.02), fill=alpha)
        self.lay(mask.filter(ImageFilter.GaussianBlur(self.s(0.008))), (255, 255, 255))

    def label(self, x0, y0, x1, y1, colour, text, text_colour=(60, 60, 60)):
        """A printed label on the goods, with the brand (the name's first characters) when a font exists."""
        self.shape(lambda d: d.rounded_rectangle(self.box(x0, y0, x1, y1), radius=self.s(0.012), fill=255), colour)
        font_path = FONT_PATH if FONT_PATH.exists() else None
        if not font_path or not text:
            return
        width = self.s(x1 - x0)
        size = max(8, min(self.s(y1 - y0) // 3, int(width / max(2, len(text)) * 0.9)))
        try:
            font = ImageFont.truetype(str(font_path), size)
        except OSError:
            return
        draw = ImageDraw.Draw(self.image)
        text_width = draw.textlength(text, font=font)
        draw.text((self.s((x0 + x1) / 2) - text_width / 2, self.s((y0 + y1) / 2) - size * 0.6), text,
                  fill=text_colour, font=font)

    def jpeg(self, final_size):
        out = self.image.resize((final_size, final_size), Image.LANCZOS)
        buffer = io.BytesIO()
        out.save(buffer, "JPEG", quality=85, optimize=True)
        return buffer.getvalue()


# brands printed on the labels (the first one a product's name holds); others get two characters
BRANDS = (
    "三只松鼠", "良品铺子", "乐事", "卫龙", "百草味", "农夫山泉", "元气森林", "雀巢", "蒙牛", "东方树叶", "五常",
    "金龙鱼", "海天", "李锦记", "茅台", "五粮液", "洋河", "汾酒", "张裕", "奔富", "长城", "青岛啤酒", "雪花",
    "燕京", "珀莱雅", "自然堂", "薇诺娜", "百雀羚", "海飞丝", "滋源", "潘婷", "云南白药", "舒适达", "飞利浦",
    "天马", "苏泊尔", "双立人", "乐扣乐扣", "膳魔师", "维达", "蓝月亮", "威露士", "妙洁", "飞鹤", "爱他美",
    "嘉宝", "帮宝适", "好奇", "全棉时代", "巴拉巴拉", "安踏", "佳沛", "小米",
)


def _brand(name):
    """The brand on the label: a known brand in the name (张裕, 海飞丝…), else its first two characters."""
    return next((brand for brand in BRANDS if brand in name), name[:2])


# --- the objects --------------------------------------------------------------------------------
def _bottle(c, colour, name, *, width, shoulder, neck_width, neck_top, cap, cap_colour, glass=True):
    left, right = 0.5 - width / 2, 0.5 + width / 2
    c.shadow(left - 0.04, 0.84, right + 0.04, 0.9)
    c.shape(lambda d: d.rounded_rectangle(c.box(left, shoulder, right, 0.87), radius=c.s(width * 0.18), fill=255), colour)
    c.shape(lambda d: d.polygon([
        (c.s(left + 0.01), c.s(shoulder + 0.05)), (c.s(0.5 - neck_width / 2), c.s(neck_top + 0.06)),
        (c.s(0.5 + neck_width / 2), c.s(neck_top + 0.06)), (c.s(right - 0.01), c.s(shoulder + 0.05)),
    ], fill=255), colour)
    c.shape(lambda d: d.rectangle(c.box(0.5 - neck_width / 2, neck_top, 0.5 + neck_width / 2, neck_top + 0.08), fill=255),
            colour)
    c.shape(lambda d: d.rounded_rectangle(c.box(0.5 - neck_width / 2 - 0.005, neck_top - cap, 0.5 + neck_width / 2 + 0.005,
                                                 neck_top + 0.01), radius=c.s(0.01), fill=255), cap_colour)
    if glass:
        c.gloss(left + width * 0.18, shoulder + 0.06, left + width * 0.3, 0.8)
    c.label(left + 0.015, 0.52, right - 0.015, 0.72, _lighter(colour, 0.85), _brand(name))


def _draw(kind, c, colour, name):
    if kind == "wine":
        _bottle(c, colour, name, width=0.2, shoulder=0.42, neck_width=0.07, neck_top=0.12, cap=0.05,
                cap_colour=(120, 20, 30))
    elif kind == "baijiu":
        _bottle(c, colour, name, width=0.3, shoulder=0.36, neck_width=0.1, neck_top=0.2, cap=0.06,
                cap_colour=(200, 160, 60), glass=colour[0] > 200)
    elif kind == "drink_bottle":
        _bottle(c, colour, name, width=0.22, shoulder=0.34, neck_width=0.09, neck_top=0.16, cap=0.05,
                cap_colour=_darker(colour, 0.3))
    elif kind == "pump":
        _bottle(c, colour, name, width=0.28, shoulder=0.4, neck_width=0.08, neck_top=0.3, cap=0.05,
                cap_colour=(240, 240, 240), glass=False)
        c.shape(lambda d: d.rectangle(c.box(0.49, 0.16, 0.51, 0.25), fill=255), (230, 230, 230), shading="flat")
        c.shape(lambda d: d.rounded_rectangle(c.box(0.44, 0.13, 0.62, 0.17), radius=c.s(0.015), fill=255), (245, 245, 245))
    elif kind == "dropper":
        _bottle(c, colour, name, width=0.24, shoulder=0.46, neck_width=0.1, neck_top=0.36, cap=0.04,
                cap_colour=(230, 220, 200))
        c.shape(lambda d: d.ellipse(c.box(0.44, 0.2, 0.56, 0.34), fill=255), (40, 40, 45), shading="round")
    elif kind == "can":
        c.shadow(0.3, 0.84, 0.7, 0.9)
        c.shape(lambda d: d.rounded_rectangle(c.box(0.32, 0.2, 0.68, 0.87), radius=c.s(0.04), fill=255), colour)
        c.shape(lambda d: d.ellipse(c.box(0.32, 0.16, 0.68, 0.25), fill=255), (200, 200, 205))
        c.shape(lambda d: d.ellipse(c.box(0.36, 0.175, 0.64, 0.235), fill=255), (170, 170, 175), shading="flat")
        c.gloss(0.37, 0.26, 0.42, 0.8)
        c.label(0.33, 0.45, 0.67, 0.65, _lighter(colour, 0.8), _brand(name))
    elif kind == "tin":
        c.shadow(0.24, 0.83, 0.76, 0.9)
        c.shape(lambda d: d.rounded_rectangle(c.box(0.26, 0.3, 0.74, 0.87), radius=c.s(0.03), fill=255), colour)
        c.shape(lambda d: d.rounded_rectangle(c.box(0.25, 0.22, 0.75, 0.33), radius=c.s(0.03), fill=255),
                _darker(colour, 0.15))
        c.label(0.28, 0.45, 0.72, 0.72, (255, 255, 255), _brand(name))
    elif kind == "tube":
        c.shadow(0.18, 0.78, 0.82, 0.86)
        c.shape(lambda d: d.polygon([(c.s(0.16), c.s(0.5)), (c.s(0.72), c.s(0.38)), (c.s(0.72), c.s(0.7)),
                                     (c.s(0.16), c.s(0.62))], fill=255), colour, shading="flat")
        c.shape(lambda d: d.rectangle(c.box(0.13, 0.48, 0.17, 0.64), fill=255), _darker(colour, 0.2), shading="flat")
        c.shape(lambda d: d.rounded_rectangle(c.box(0.72, 0.45, 0.84, 0.63), radius=c.s(0.02), fill=255), (52, 73, 94))
        c.label(0.3, 0.47, 0.62, 0.6, _mix(colour, (231, 76, 60), 0.5), _brand(name), text_colour=(255, 255, 255))
    elif kind == "sack":
        c.shadow(0.2, 0.84, 0.8, 0.91)
        c.shape(lambda d: d.rounded_rectangle(c.box(0.22, 0.28, 0.78, 0.88), radius=c.s(0.08), fill=255), colour)
        c.shape(lambda d: d.polygon([(c.s(0.3), c.s(0.3)), (c.s(0.42), c.s(0.16)), (c.s(0.58), c.s(0.16)),
                                     (c.s(0.7), c.s(0.3))], fill=255), _darker(colour, 0.08))
        c.shape(lambda d: d.rectangle(c.box(0.4, 0.19, 0.6, 0.23), fill=255), (150, 40, 40), shading="flat")
        c.label(0.3, 0.48, 0.7, 0.7, (250, 248, 240), _brand(name), text_colour=(150, 40, 40))
    elif kind in ("snack_bag", "soft_pack"):
        c.shadow(0.2, 0.84, 0.8, 0.9)
        teeth = 10
        top, bottom = (0.14, 0.86) if kind == "snack_bag" else (0.24, 0.86)

        def bag(d):
            points = []
            for i in range(teeth + 1):
                points.append((c.s(0.24 + 0.52 * i / teeth), c.s(top + (0.02 if i % 2 else 0))))
            points += [(c.s(0.78), c.s(0.3)), (c.s(0.8), c.s(0.7))]
            for i in range(teeth, -1, -1):
                points.append((c.s(0.24 + 0.52 * i / teeth), c.s(bottom - (0.02 if i % 2 else 0))))
            points += [(c.s(0.2), c.s(0.7)), (c.s(0.22), c.s(0.3))]
            d.polygon(points, fill=255)

        c.shape(bag, colour)
        c.gloss(0.3, 0.22, 0.36, 0.78, alpha=60)
        c.label(0.3, 0.42, 0.7, 0.62, _lighter(colour, 0.85), _brand(name))
    elif kind == "box":
        c.shadow(0.14, 0.8, 0.86, 0.9)
        front = [(0.18, 0.42), (0.56, 0.5), (0.56, 0.86), (0.18, 0.76)]
        side = [(0.56, 0.5), (0.84, 0.38), (0.84, 0.72), (0.56, 0.86)]
        lid = [(0.18, 0.42), (0.46, 0.3), (0.84, 0.38), (0.56, 0.5)]
        for face, shade in ((front, _darker(colour, 0.05)), (side, _darker(colour, 0.3)), (lid, _lighter(colour, 0.3))):
            c.shape(lambda d, f=face: d.polygon([(c.s(x), c.s(y)) for x, y in f], fill=255), shade, shading="flat")
        c.gloss(0.22, 0.47, 0.26, 0.72, alpha=90)
    elif kind == "pot":
        c.shadow(0.12, 0.7, 0.72, 0.8)
        c.shape(lambda d: d.rounded_rectangle(c.box(0.62, 0.5, 0.94, 0.56), radius=c.s(0.02), fill=255), (60, 40, 30))
        c.shape(lambda d: d.chord(c.box(0.1, 0.3, 0.7, 0.78), 0, 180, fill=255), colour)
        c.shape(lambda d: d.ellipse(c.box(0.1, 0.44, 0.7, 0.6), fill=255), _darker(colour, 0.45), shading="flat")
        c.shape(lambda d: d.ellipse(c.box(0.14, 0.46, 0.66, 0.58), fill=255), _darker(colour, 0.6), shading="round")
    elif kind == "jug":
        c.shadow(0.22, 0.84, 0.78, 0.9)
        c.shape(lambda d: d.rounded_rectangle(c.box(0.24, 0.26, 0.76, 0.87), radius=c.s(0.07), fill=255), colour)
        hole = c.mask()
        ImageDraw.Draw(hole).rounded_rectangle(c.box(0.58, 0.3, 0.7, 0.46), radius=c.s(0.03), fill=255)
        c.lay(hole, _lighter(colour, 0.75))
        c.shape(lambda d: d.rounded_rectangle(c.box(0.3, 0.16, 0.44, 0.28), radius=c.s(0.02), fill=255), (240, 240, 240))
        c.label(0.28, 0.52, 0.72, 0.74, (255, 255, 255), _brand(name))
    elif kind == "fruit":
        for x, y, r in ((0.36, 0.58, 0.17), (0.62, 0.6, 0.17), (0.5, 0.42, 0.18)):
            c.shadow(x - r, y + r * 0.75, x + r, y + r * 1.15, strength=60)
            c.shape(lambda d, x=x, y=y, r=r: d.ellipse(c.box(x - r, y - r, x + r, y + r), fill=255), colour,
                    shading="round")
        c.shape(lambda d: d.rectangle(c.box(0.495, 0.2, 0.51, 0.27), fill=255), (110, 70, 40), shading="flat")
        c.shape(lambda d: d.ellipse(c.box(0.51, 0.19, 0.62, 0.25), fill=255), (46, 160, 70), shading="round")
    elif kind == "vegetable":
        c.shadow(0.2, 0.78, 0.8, 0.88)
        c.shape(lambda d: d.polygon([(c.s(0.44), c.s(0.55)), (c.s(0.56), c.s(0.55)), (c.s(0.54), c.s(0.84)),
                                     (c.s(0.46), c.s(0.84))], fill=255), (160, 200, 120))
        for x, y, r in ((0.34, 0.46, 0.13), (0.5, 0.36, 0.15), (0.66, 0.46, 0.13), (0.5, 0.52, 0.14)):
            c.shape(lambda d, x=x, y=y, r=r: d.ellipse(c.box(x - r, y - r, x + r, y + r), fill=255), colour,
                    shading="round")
    elif kind == "eggs":
        c.shadow(0.14, 0.76, 0.86, 0.86)
        c.shape(lambda d: d.rounded_rectangle(c.box(0.14, 0.56, 0.86, 0.8), radius=c.s(0.03), fill=255), (200, 190, 170))
        for x in (0.26, 0.42, 0.58, 0.74):
            c.shape(lambda d, x=x: d.ellipse(c.box(x - 0.075, 0.34, x + 0.075, 0.6), fill=255), colour, shading="round")
    elif kind in ("tshirt", "dress"):
        c.shadow(0.2, 0.84, 0.8, 0.9, strength=60)
        if kind == "tshirt":
            outline = [(0.36, 0.18), (0.44, 0.22), (0.56, 0.22), (0.64, 0.18), (0.86, 0.3), (0.78, 0.44),
                       (0.7, 0.4), (0.7, 0.86), (0.3, 0.86), (0.3, 0.4), (0.22, 0.44), (0.14, 0.3)]
        else:
            outline = [(0.4, 0.14), (0.46, 0.18), (0.54, 0.18), (0.6, 0.14), (0.64, 0.38), (0.58, 0.44),
                       (0.8, 0.86), (0.2, 0.86), (0.42, 0.44), (0.36, 0.38)]
        c.shape(lambda d: d.polygon([(c.s(x), c.s(y)) for x, y in outline], fill=255), colour)
        c.shape(lambda d: d.chord(c.box(0.43, 0.14, 0.57, 0.26), 0, 180, fill=255), _darker(colour, 0.25), shading="flat")
    elif kind == "suitcase":
        c.shadow(0.22, 0.86, 0.78, 0.92)
        c.shape(lambda d: d.rounded_rectangle(c.box(0.4, 0.12, 0.6, 0.26), radius=c.s(0.02), outline=255,
                                              width=c.s(0.025)), (90, 90, 95), shading="flat")
        c.shape(lambda d: d.rounded_rectangle(c.box(0.26, 0.22, 0.74, 0.86), radius=c.s(0.05), fill=255), colour)
        for x in (0.38, 0.5, 0.62):
            c.shape(lambda d, x=x: d.rectangle(c.box(x - 0.008, 0.25, x + 0.008, 0.83), fill=255), _darker(colour, 0.25),
                    shading="flat")
        for x in (0.32, 0.68):
            c.shape(lambda d, x=x: d.ellipse(c.box(x - 0.03, 0.85, x + 0.03, 0.91), fill=255), (30, 30, 30),
                    shading="round")
    else:
        raise ValueError(f"no drawing for {kind!r}")


def product_picture(kind, name, *, size=600, variant=0):
    """JPEG bytes of one product's picture: its kind of goods in a colour its name picks."""
    colour = _pick(HUES[kind], name, salt=str(variant))
    canvas = Canvas(size, _pick([(255, 190, 150), (170, 210, 250), (200, 235, 200), (240, 210, 240)], name, "bg"))
    _draw(kind, canvas, colour, name)
    return canvas.jpeg(size)


def category_picture(kind, name, *, size=112):
    """The category grid's icon: the same kind of goods, on its own."""
    return product_picture(kind, name, size=size)


def kind_for(category_name, parent_name=""):
    """The kind drawn for a category (a top category takes the kind of its first sub-category)."""
    if category_name in KIND_BY_CATEGORY:
        return KIND_BY_CATEGORY[category_name]
    return KIND_BY_CATEGORY.get(parent_name, "box")


def differs(a: bytes, b: bytes) -> bool:
    """True when two pictures are not the same image (used by tests: every product its own picture)."""
    with Image.open(io.BytesIO(a)) as first, Image.open(io.BytesIO(b)) as second:
        return ImageChops.difference(first.convert("RGB"), second.convert("RGB")).getbbox() is not None
