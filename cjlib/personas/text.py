"""Words and numbers the persona cards print: percentages that never round a share to 0 % or 100 % it
is not, and whether the log's conversion is a purchase (the names' "buyers")."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cjlib.findings import pct

#: a conversion event or stage whose name says buying (``purchase``, ``iap_purchase``, ``order_placed``,
#: ``buy``, ``transaction``, ``checkout_complete``); a sign-up, a subscription start or a lead is not
_PURCHASE_WORD = re.compile(r"purchas|order|buy|bought|transaction|checkout_complete|sale")


def percent(x, digits: int = 0) -> str:
    """A share as a percentage that reads ``"<1%"`` / ``">99%"`` where plain rounding would print 0 % or
    100 % for a share that is not exactly that (34 payers among thousands are not "0% of revenue").

    Parameters
    ----------
    x : float
        The share (0–1); raises :class:`cjlib.findings.Unearned` on NaN/inf/None.
    digits : int
        Decimals after the point (default ``0``).

    Returns
    -------
    str
        The percentage text.

    Examples
    --------
    >>> percent(0.004), percent(0.9951), percent(0.0), percent(1.0), percent(0.12), percent(0.0004, 1)
    ('<1%', '>99%', '0%', '100%', '12%', '<0.1%')
    """
    text, v = pct(x, digits), float(x)
    unit = 10.0 ** -digits  # the smallest step printed, in percent
    if 0 < v and text == pct(0.0, digits):
        return f"<{unit:.{digits}f}%"
    if v < 1 and text == pct(1.0, digits):
        return f">{100 - unit:.{digits}f}%"
    return text


def is_purchase(conversion: Iterable[str], *, revenue: bool) -> bool:
    """Whether converting is buying: the log has revenue, or a conversion event or stage is named like a
    purchase. Persona names say "buyers" (and "big spenders", "bargain", "shoppers") only then; a content
    site whose conversion is a newsletter sign-up has "converters".

    Parameters
    ----------
    conversion : iterable of str
        The conversion events and the conversion stage (``StageMap.conversion_events``, ``conversion_stage``).
    revenue : bool
        Whether the log carries revenue (``Inputs.profile.supports("revenue")``).

    Returns
    -------
    bool
        True when converting is a purchase.

    Examples
    --------
    >>> is_purchase(["newsletter_signup", "subscriber"], revenue=False), is_purchase(["purchase"], revenue=False)
    (False, True)
    """
    return bool(revenue) or any(_PURCHASE_WORD.search(str(c).lower()) for c in conversion if c)
