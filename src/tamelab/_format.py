"""Numbers for people: sensible precision, units, scientific notation for huge integers.

Used by the HTML report (Jinja filters) and by result ``__repr__``/``_repr_html_``.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["fmt_value", "fmt_seconds", "fmt_sci", "humanize_key", "FIXED_RANGE", "SCI_INT_FROM"]

#: floats with ``FIXED_RANGE[0] <= |x| < FIXED_RANGE[1]`` are written in fixed notation, others scientific
#: (display ranges, not numerical tolerances)
FIXED_RANGE = (0.001, 1e6)
#: integers from this magnitude on are written in scientific notation
SCI_INT_FROM = 10**7
_MS = 0.001  # one millisecond

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_NONFINITE = {"nan": "NaN", "inf": "∞", "-inf": "−∞", "infinity": "∞", "-infinity": "−∞"}


def fmt_sci(mantissa: str, exponent: int) -> str:
    """``"3.40", 38`` → ``"3.40 × 10³⁸"``."""
    return f"{mantissa} × 10{str(exponent).translate(_SUP)}"


def _sci_int(n: int, digits: int = 3) -> str:
    s = str(abs(n))
    e = len(s) - 1
    # round the leading digits exactly (no float overflow for 80-digit integers)
    lead = int(s[: digits + 1]) if len(s) > digits else int(s)
    q, r = divmod(lead, 10) if len(s) > digits else (lead, 0)
    if r >= 5:
        q += 1
    if len(str(q)) > digits:
        q //= 10
        e += 1
    m = str(q)
    mant = m[0] + ("." + m[1:] if len(m) > 1 else "")
    return ("−" if n < 0 else "") + fmt_sci(mant, e)


def _sci_float(x: float, sig: int = 3) -> str:
    m, e = f"{x:.{sig - 1}e}".split("e")
    return fmt_sci(m.replace("-", "−"), int(e))


def fmt_seconds(s: float) -> str:
    """``0.0123`` → ``12 ms``; ``4.2`` → ``4.2 s``; ``125`` → ``2 min 05 s``."""
    if not math.isfinite(s):
        return str(s)
    if s < _MS:
        return "< 1 ms"
    if s < 1:
        return f"{1000 * s:.0f} ms"
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def fmt_value(v: Any, unit: str | None = None, *, sig: int = 4) -> str:
    """Format one value for display.

    Integers get thousands separators below 10⁷ and scientific notation above; floats 4 significant
    digits (scientific below 10⁻³ and from 10⁶); ``unit="%"`` shows a fraction as a percentage,
    ``unit="s"`` a duration; any other unit is appended. Non-finite markers (``"nan"``, ``"inf"``)
    become NaN/∞; ``None`` is an em dash; lists and dicts are compact JSON (shortened past 120 chars).
    """
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str):
        low = v.strip().lower()
        if low in _NONFINITE:
            return _NONFINITE[low]
        return v
    if isinstance(v, int):
        if unit == "%":
            return fmt_value(float(v), unit, sig=sig)
        txt = f"{v:,}" if abs(v) < SCI_INT_FROM else _sci_int(v)
        return txt + (f" {unit}" if unit and unit != "s" else " s" if unit == "s" else "")
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if unit == "%":
            return f"{100 * v:.1f} %"
        if unit == "s":
            return fmt_seconds(v)
        if v == 0:
            txt = "0"
        elif v.is_integer() and abs(v) < 1e7:
            txt = f"{int(v):,}"
        elif FIXED_RANGE[0] <= abs(v) < FIXED_RANGE[1]:
            txt = f"{v:.{sig}g}"
            if "e" in txt:  # e.g. 1.235e+05 for 123456.7 at 4 digits
                txt = f"{v:,.0f}"
        else:
            txt = _sci_float(v, min(sig, 3))
        txt = txt.replace("-", "−")
        return txt + (f" {unit}" if unit else "")
    if isinstance(v, (list, tuple, dict)):
        s = json.dumps(v, default=str, ensure_ascii=False)
        return s if len(s) <= 120 else s[:117] + "…"
    return str(v)


def humanize_key(k: str) -> str:
    """``final_test_acc`` → ``final test acc``."""
    return str(k).replace("_", " ")
