"""The reference grammar: what every ledger row and every stock reservation says caused it.

This docstring is the one place the grammar is written down; every app builds its references
with the functions below instead of formatting strings by hand.

    reference  := kind ":" id [ ":" step ]
    kind       := "order" | "mall" | "transfer" | "doc" | "staff" | "merge" | "import"
    step       := action ":" id            (e.g. "refund:12", "pickup:3", "ship:7")

    order:<no>                an order (its order number): stock reserved and sold, points spent,
                              coupon used, commission
    order:<no>:<step>         one step of that order done more than once over its life: a refund
                              (order:<no>:refund:<id>), a pickup (order:<no>:pickup:<id>), a
                              shipment (order:<no>:ship:<id>)
    mall:<id>                 a points-mall exchange (PointsExchange pk)
    transfer:<id>             a stock transfer between stores (Transfer pk)
    doc:<no>                  a stock document (its number: RK… receipt 入库, CK… issue 出库,
                              PD… stocktake 盘点); a reversal is a document of its own with its own
                              number, so it never shares the reference of what it reverses
    staff:<id>                a staff member's form submission (the form's request id, a UUID):
                              a re-sent form changes a balance once
    merge:<id>                an account merged into another (the merged-away user's pk)
    import:<id>               a member's opening balance carried over from the merchant's previous
                              system (the member's pk): one opening entry per ledger

Rules every reference obeys (`check_reference`): not empty, at most 64 characters (the width of
every ``reference`` column), no whitespace and no NUL. An id is never empty and holds no ``:``,
so a reference reads back unambiguously. A reference names ONE intent: the idempotency keys of the
ledgers (one movement per stock row, reason and reference; one points entry per reference) rely
on a reference never being reused for something else, and a partial step of a reservation is
recorded as ``<reference>:<step>``.

core imports no domain app: this module is plain string work.
"""

MAX_LENGTH = 64

__all__ = [
    "MAX_LENGTH",
    "check_reference",
    "doc_ref",
    "import_ref",
    "merge_ref",
    "mall_ref",
    "order_ref",
    "order_step_ref",
    "parse_reference",
    "staff_ref",
    "step_ref",
    "transfer_ref",
]


def check_reference(ref):
    """Return `ref` unchanged when it is a usable reference; raise ValueError otherwise
    (not a string, empty, longer than 64 characters, or holding a NUL or any whitespace)."""
    if not isinstance(ref, str):
        raise ValueError(f"a reference must be a string, not {type(ref).__name__}")
    if not ref:
        raise ValueError("a reference must not be empty")
    if len(ref) > MAX_LENGTH:
        raise ValueError(f"a reference must be at most {MAX_LENGTH} characters: {ref[:MAX_LENGTH]!r}...")
    if "\x00" in ref or any(ch.isspace() for ch in ref):
        raise ValueError(f"a reference must not hold whitespace or NUL: {ref!r}")
    return ref


def _id(value):
    if value is None or isinstance(value, bool):
        raise ValueError(f"a reference id must be a number or a string, not {value!r}")
    text = str(value)
    if not text or ":" in text:
        raise ValueError(f"a reference id must be non-empty and hold no ':': {text!r}")
    return text


def _step(step):
    if not isinstance(step, str) or not step or step.startswith(":") or step.endswith(":"):
        raise ValueError(f"a step must look like 'refund:12', not {step!r}")
    return step


def order_ref(number):
    """``order:<no>`` for the order with this order number."""
    return check_reference(f"order:{_id(number)}")


def order_step_ref(number, step):
    """``order:<no>:<step>``: one step of an order (``refund:<id>``, ``pickup:<id>``, ``ship:<id>``)."""
    return check_reference(f"order:{_id(number)}:{_step(step)}")


def step_ref(reference, step):
    """``<reference>:<step>``: a partial step of whatever `reference` names (a reservation's
    partial release or sale is recorded under it)."""
    return check_reference(f"{check_reference(reference)}:{_step(step)}")


def mall_ref(exchange_id):
    """``mall:<id>`` for a points-mall exchange."""
    return check_reference(f"mall:{_id(exchange_id)}")


def transfer_ref(transfer_id):
    """``transfer:<id>`` for a stock transfer."""
    return check_reference(f"transfer:{_id(transfer_id)}")


def doc_ref(number):
    """``doc:<no>`` for a stock document (receipt, issue, stocktake) by its number."""
    return check_reference(f"doc:{_id(number)}")


def staff_ref(form_id):
    """``staff:<id>`` for one staff form submission (its request id)."""
    return check_reference(f"staff:{_id(form_id)}")


def import_ref(member_id):
    """``import:<id>`` for a member's opening balance brought over from a previous system."""
    return check_reference(f"import:{_id(member_id)}")


def merge_ref(user_id):
    """``merge:<id>`` for the account merged away."""
    return check_reference(f"merge:{_id(user_id)}")


KINDS = ("order", "mall", "transfer", "doc", "staff", "merge", "import")


def parse_reference(ref):
    """(kind, id, step) of a reference written by the functions above, step "" when none; None for
    anything else (an empty or foreign string). Never raises: it reads what a ledger row holds."""
    if not isinstance(ref, str) or ":" not in ref:
        return None
    kind, _sep, rest = ref.partition(":")
    if kind not in KINDS:
        return None
    ident, _sep, step = rest.partition(":")
    if not ident:
        return None
    return kind, ident, step
