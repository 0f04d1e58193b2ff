"""Photos for the demo stores' galleries, drawn with Pillow at seed time (nothing is downloaded).

Three views of a shop, in colours the store's code picks: the shop front (a wall, a sign with the
store's name, an awning, a door and windows full of goods), the shelves inside, and the pickup
counter. Drawn large (1600 px, like a phone's photo, so that the thumbnails have work to do). The
sign is written with the CJK font when Debian's fonts-wqy-microhei is installed, else with
Pillow's own font in Latin letters (the store's code).
"""

import hashlib
import io

from PIL import Image, ImageDraw, ImageFont

from catalog.demo_art import font as cjk_font

VIEWS = ("front", "shelves", "counter")
SIZES = {"front": (1600, 1200), "shelves": (1600, 1200), "counter": (1200, 1500)}
WALLS = [(236, 226, 210), (214, 226, 236), (230, 214, 220), (220, 232, 214)]
BRANDS = [(196, 40, 48), (30, 100, 170), (22, 130, 90), (210, 110, 20)]
GOODS = [(231, 76, 60), (241, 196, 15), (46, 204, 113), (52, 152, 219), (155, 89, 182), (230, 126, 34)]


def _pick(seq, key, salt):
    return seq[hashlib.md5(f"{salt}:{key}".encode()).digest()[0] % len(seq)]


def _shade(colour, t):
    return tuple(max(0, min(255, int(c * t))) for c in colour)


def _sign_text(draw, box, name, code, colour):
    """The store's name centred in `box`: in Chinese with the CJK font, else its code."""
    x0, y0, x1, y1 = box
    height = y1 - y0
    font = cjk_font(int(height * 0.55))
    text = name
    if font is None:
        font, text = ImageFont.load_default(size=int(height * 0.5)), code.upper()
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = x0 + (x1 - x0 - (right - left)) / 2 - left
    y = y0 + (height - (bottom - top)) / 2 - top
    draw.text((x, y), text, font=font, fill=colour)


def _goods(draw, x0, y0, x1, y1, key, rows=3):
    """Rows of boxes and bottles on shelves between x0 and x1."""
    shelf_h = (y1 - y0) / rows
    for row in range(rows):
        base = y0 + shelf_h * (row + 1)
        draw.rectangle([x0, base - 10, x1, base], fill=(150, 120, 90))
        x = x0 + 12
        n = 0
        while x < x1 - 40:
            w = 34 + (n * 17 + row * 11) % 40
            h = shelf_h * (0.45 + ((n * 7 + row) % 5) / 12)
            colour = _pick(GOODS, f"{key}{row}{n}", "goods")
            draw.rectangle([x, base - 10 - h, min(x + w, x1 - 12), base - 10], fill=colour)
            draw.rectangle([x + 6, base - 10 - h * 0.7, min(x + w, x1 - 12) - 6, base - 10 - h * 0.45],
                           fill=_shade(colour, 1.25))
            x += w + 10
            n += 1


def _front(draw, size, name, code, wall, brand):
    w, h = size
    draw.rectangle([0, 0, w, h * 0.18], fill=(170, 205, 235))  # sky
    draw.rectangle([0, h * 0.18, w, h], fill=wall)
    draw.rectangle([w * 0.06, h * 0.22, w * 0.94, h * 0.38], fill=brand)  # the sign
    _sign_text(draw, (w * 0.06, h * 0.22, w * 0.94, h * 0.38), name, code, (255, 255, 255))
    stripes = 12
    for i in range(stripes):  # the awning
        fill = brand if i % 2 == 0 else (250, 250, 250)
        draw.rectangle([w * 0.06 + i * w * 0.88 / stripes, h * 0.38, w * 0.06 + (i + 1) * w * 0.88 / stripes, h * 0.45],
                       fill=fill)
    draw.rectangle([w * 0.40, h * 0.50, w * 0.60, h * 0.92], fill=(70, 60, 55))  # the door
    draw.rectangle([w * 0.42, h * 0.53, w * 0.58, h * 0.90], fill=(150, 190, 210))
    for left in (0.08, 0.64):  # shop windows with goods
        box = [w * left, h * 0.50, w * (left + 0.28), h * 0.82]
        draw.rectangle(box, fill=(205, 228, 240), outline=(90, 90, 90), width=10)
        _goods(draw, box[0] + 10, box[1] + 10, box[2] - 10, box[3] - 10, f"{code}{left}", rows=2)
    draw.rectangle([0, h * 0.92, w, h], fill=(120, 120, 125))  # the pavement


def _shelves(draw, size, name, code, wall, brand):
    w, h = size
    draw.rectangle([0, 0, w, h * 0.8], fill=_shade(wall, 1.04))
    draw.rectangle([0, h * 0.8, w, h], fill=(200, 190, 175))  # floor
    draw.rectangle([0, 0, w, h * 0.07], fill=brand)
    for i, left in enumerate((0.04, 0.36, 0.68)):
        x0, x1 = w * left, w * (left + 0.28)
        draw.rectangle([x0, h * 0.12, x1, h * 0.82], fill=(235, 230, 220), outline=(160, 150, 140), width=6)
        _goods(draw, x0 + 8, h * 0.14, x1 - 8, h * 0.80, f"{code}{i}", rows=4)


def _counter(draw, size, name, code, wall, brand):
    w, h = size
    draw.rectangle([0, 0, w, h], fill=wall)
    draw.rectangle([w * 0.1, h * 0.08, w * 0.9, h * 0.2], fill=brand)
    _sign_text(draw, (w * 0.1, h * 0.08, w * 0.9, h * 0.2), name, code, (255, 255, 255))
    _goods(draw, w * 0.08, h * 0.24, w * 0.92, h * 0.55, f"{code}wall", rows=2)
    draw.rectangle([w * 0.05, h * 0.62, w * 0.95, h * 0.9], fill=_shade(brand, 0.75))  # the counter
    draw.rectangle([w * 0.05, h * 0.62, w * 0.95, h * 0.66], fill=(240, 240, 240))
    draw.rectangle([w * 0.62, h * 0.50, w * 0.82, h * 0.62], fill=(40, 40, 45))  # the till
    draw.rectangle([w * 0.64, h * 0.52, w * 0.80, h * 0.58], fill=(120, 200, 160))
    for i in range(3):  # bags ready for pickup
        draw.rectangle([w * (0.12 + i * 0.14), h * 0.52, w * (0.23 + i * 0.14), h * 0.62],
                       fill=_pick(GOODS, f"{code}bag{i}", "bags"))
    draw.rectangle([0, h * 0.9, w, h], fill=(190, 180, 165))


DRAW = {"front": _front, "shelves": _shelves, "counter": _counter}


def store_picture(name, code, view):
    """JPEG bytes of one view ("front", "shelves", "counter") of the store `name` (code `code`)."""
    size = SIZES[view]
    image = Image.new("RGB", size)
    wall, brand = _pick(WALLS, code, "wall"), _pick(BRANDS, code, "brand")
    DRAW[view](ImageDraw.Draw(image), size, name, code, wall, brand)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
