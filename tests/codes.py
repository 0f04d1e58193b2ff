"""Pictures of codes for the camera-scanning tests: a QR code (the qrcode package, as the shop draws
a pickup code), an EAN-13 barcode drawn with Pillow from the standard's tables, and a Y4M video of a
picture for Chromium's fake camera (--use-file-for-fake-video-capture)."""

import io

import qrcode
from PIL import Image, ImageDraw

# EAN-13 (ISO/IEC 15420): each digit is 7 modules. The first digit is not drawn; it chooses which of
# the left half's digits use the L or the G set. The right half uses the R set (L inverted), and G
# is R reversed.
_L = ["0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011"]
_R = ["".join("1" if bit == "0" else "0" for bit in code) for code in _L]
_G = [code[::-1] for code in _R]
_PARITY = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]


def ean13_check_digit(first12):
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def ean13_modules(code):
    """The 95 modules (1 = bar) of a 13-digit EAN whose check digit is right."""
    assert len(code) == 13 and code.isdigit() and ean13_check_digit(code[:12]) == code[12], code
    left = "".join((_L if kind == "L" else _G)[int(d)] for kind, d in zip(_PARITY[int(code[0])], code[1:7], strict=True))
    right = "".join(_R[int(d)] for d in code[7:])
    return "101" + left + "01010" + right + "101"


def ean13_png(code, *, module=4, height=160, quiet=12):
    modules = ean13_modules(code)
    width = (len(modules) + 2 * quiet) * module
    image = Image.new("L", (width, height + 2 * quiet * module // 2), 255)
    draw = ImageDraw.Draw(image)
    top = quiet * module // 2
    for i, bit in enumerate(modules):
        if bit == "1":
            x = (quiet + i) * module
            draw.rectangle([x, top, x + module - 1, top + height], fill=0)
    return _png(image)


def qr_image(text, *, box=8):
    return qrcode.make(text, box_size=box, border=4).get_image().convert("L")


def qr_png(text, *, box=8):
    return _png(qr_image(text, box=box))


def _png(image):
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def y4m_of(image, *, width=640, height=480, frames=10):
    """A short 4:2:0 Y4M video showing `image` centred on white (Chromium loops it as its camera)."""
    canvas = Image.new("RGB", (width, height), "white")
    picture = image.convert("RGB")
    picture.thumbnail((width - 40, height - 40))
    canvas.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    return header + b"".join(b"FRAME\n" + frame for _ in range(frames))
