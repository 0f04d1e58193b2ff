"""Write static/orders/new-order.wav: the back office's new-order chime (新订单提醒音).

A two-note "ding-dong" (E6 then C6, each with a soft attack, an exponential decay and a quieter
octave above), 16 kHz mono 16-bit PCM, under a second. Deterministic: the same bytes every run, so
the committed file can be checked against this script (tests/orders/test_backoffice_alerts.py).

    .venv/bin/python scripts/order_chime.py
"""

import math
import struct
import wave
from pathlib import Path

RATE = 16000
NOTES = [(1318.51, 0.0, 0.45), (1046.50, 0.32, 0.55)]  # (frequency Hz, start s, length s)
LENGTH = 0.9
VOLUME = 0.45
TARGET = Path(__file__).resolve().parent.parent / "static" / "orders" / "new-order.wav"


def samples():
    total = int(RATE * LENGTH)
    out = [0.0] * total
    for freq, start, length in NOTES:
        first, count = int(start * RATE), int(length * RATE)
        for i in range(count):
            t = i / RATE
            envelope = min(1.0, t / 0.008) * math.exp(-t * 6.0)
            tone = math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(4 * math.pi * freq * t)
            if first + i < total:
                out[first + i] += envelope * tone
    peak = max(abs(s) for s in out) or 1.0
    return [int(round(s / peak * VOLUME * 32767)) for s in out]


def write(path=TARGET):
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples()))
    return path


if __name__ == "__main__":
    print(write())
