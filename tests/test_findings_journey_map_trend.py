"""00's KPI trend title when the log starts with a pipeline filling up (issue 19, brief G).

A B2B log's first months read 0 % conversion because the accounts that entered at the log's start had
not had the months a deal takes; "Conversion rose from 0.0% (2022-09)" was that ramp, not a rise. The
trend starts at the first period with a conversion and says which full periods it left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.findings import journey_map as fj
from cjlib.findings import problems


def months(active, converters, days=None, start="2022-07"):
    idx = pd.period_range(start, periods=len(active), freq="M").astype(str)
    period_days = pd.period_range(start, periods=len(active), freq="M").days_in_month.to_numpy()
    active, converters = np.asarray(active), np.asarray(converters)
    return pd.DataFrame({"active_customers": active, "converters": converters,
                         "conversion_rate": converters / np.where(active > 0, active, np.nan),
                         "days": period_days if days is None else days, "period_days": period_days},
                        index=pd.Index(idx, name="period"))


def test_ramp_up_months_are_not_a_rise():
    # the gallery's B2B shape: July partial, nobody converts until December, then 3 of 35 … 6 of 33
    t = months([15, 25, 40, 32, 30, 35, 38, 35, 35, 36, 33], [0, 0, 0, 0, 0, 3, 3, 5, 0, 7, 6],
               days=[28, 31, 30, 31, 30, 31, 31, 28, 31, 30, 31])
    title = fj.trend_title(t, "M")
    # 3/35 against 6/33: within chance; August has under 30 active, September to November are left out
    assert title == ("Conversion was 8.6% (2022-12) and 18.2% (2023-05) of active customers per month: no "
                     "change beyond chance (2022-09 to 2022-11 left out: nobody in the log had converted yet)")
    assert "0.0%" not in title and problems(title) == []


def test_a_real_rise_after_the_ramp_is_still_named_and_one_month_left_out_is_named():
    t = months([500, 500, 500, 500], [0, 10, 20, 60])  # 2% (10/500) to 12% (60/500): p < 0.001
    assert fj.trend_title(t, "M") == ("Conversion rose from 2.0% (2022-08) to 12.0% (2022-10) of active "
                                      "customers per month (2022-07 left out: nobody in the log had "
                                      "converted yet)")


def test_too_few_months_after_the_first_conversion():
    t = months([100, 100, 100, 100], [0, 0, 0, 5])
    assert fj.trend_title(t, "M") == ("KPIs per month: fewer than two full months with 30+ active customers "
                                      "from 2022-10, the first month with a conversion, so no trend (2022-07 "
                                      "to 2022-09 left out: nobody in the log had converted yet)")


def test_no_period_is_left_out_when_the_first_converts():
    # a partial first month with a conversion: no ramp; it is left out as partial, unnamed
    t = months([40, 400, 400], [1, 8, 24], days=[10, 31, 31])
    assert fj.trend_title(t, "M") == ("Conversion rose from 2.0% (2022-08) to 6.0% (2022-09) of active "
                                      "customers per month")
    # a zero month after the first conversion is a real 0 %: it is not skipped
    t2 = months([400, 400, 400], [8, 0, 24])
    assert fj.trend_title(t2, "M").startswith("Conversion rose from 2.0% (2022-07)")
    # nobody ever converts: the conversion trend is not earned, active customers are trended instead
    t3 = months([400, 400, 600], [0, 0, 0])
    assert fj.trend_title(t3, "M") == "Active customers rose from 400 (2022-07) to 600 (2022-09) per month"
