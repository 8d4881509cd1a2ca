"""cjlib.channels: GA4's default channel group, rule by rule, in Google's order of precedence.

Each case cites the rule of Analytics Help "[GA4] Default channel group" (answer 9756891) it exercises;
tests/data/channels/README.md says where each rule and list comes from.
"""

from __future__ import annotations

import doctest
import hashlib
import re

import numpy as np
import pandas as pd
import pytest

import cjlib.channels as channels
from cjlib import DataError
from cjlib.channels import GA4_NOTE, channel_group, load_rules

# (source, medium, campaign, expected channel): at least one row per documented rule.
DOCUMENTED = {
    "Direct": [("(direct)", "(none)", None), ("(direct)", "(not set)", None), (None, None, None)],
    "Cross-network": [("google", "cpc", "pmax cross-network brand"), ("partner", "whatever", "Cross-network")],
    "Paid Shopping": [("amazon", "cpc", None), ("partner", "retargeting", "spring-shopping"),
                      ("partner", "paid", "shop")],
    "Paid Search": [("google", "cpc", None), ("bing", "ppc", None), ("duckduckgo", "paidsearch", None)],
    "Paid Social": [("facebook", "cpc", None), ("instagram", "paid-social", None),
                    ("l.facebook.com", "retargeting", None)],
    "Paid Video": [("youtube", "cpc", None), ("m.youtube.com", "cpv", None)],
    "Display": [("adnetwork", m, None) for m in ("display", "banner", "expandable", "interstitial", "cpm")],
    "Paid Other": [("partner", "cpc", None), ("partner", "paid_newsletter", None)],
    "Organic Shopping": [("ebay", "referral", None), ("partner", None, "shop-launch"),
                         ("Google Shopping", None, None)],
    "Organic Social": [("facebook", "referral", None)]
    + [("partner", m, None) for m in ("social", "social-network", "social-media", "sm", "social network",
                                      "social media")],
    "Organic Video": [("youtube", "referral", None), ("partner", "video", None), ("partner", "pre-roll-video", None)],
    "Organic Search": [("google", "organic", None), ("duckduckgo", "referral", None), ("some-engine", "organic", None)],
    "Referral": [("partner.example", "referral", None), ("partner", "app", None), ("partner", "link", None)],
    "Email": [("newsletter", m, None) for m in ("email", "e-mail", "e_mail", "e mail")]
    + [(s, "newsletter", None) for s in ("email", "e-mail", "e_mail", "e mail")],
    "Affiliates": [("partner", "affiliate", None)],
    "Audio": [("podcastnetwork", "audio", None)],
    "SMS": [("sms", "text", None), ("twilio", "sms", None)],
    "Mobile Push Notifications": [("onesignal", "push", None), ("onesignal", "web-push", None),
                                  ("app", "mobile", None), ("app", "in-app-notification", None),
                                  ("firebase", "inapp", None)],
    "Unassigned": [("partner", "newsletter", None), ("partner", None, None), (None, "weird", None),
                   ("partner", "(none)", None)],
}
CASES = [(ch, *row) for ch, rows in DOCUMENTED.items() for row in rows]

GA4_ORDER = ["Direct", "Cross-network", "Paid Shopping", "Paid Search", "Paid Social", "Paid Video", "Display",
             "Paid Other", "Organic Shopping", "Organic Social", "Organic Video", "Organic Search", "Referral",
             "Email", "Affiliates", "Audio", "SMS", "Mobile Push Notifications", "Unassigned"]


def _one(source, medium, campaign=None, **kw) -> str:
    return channel_group([source], [medium], [campaign], **kw).iloc[0]


@pytest.mark.parametrize("channel", list(DOCUMENTED))
def test_each_documented_rule(channel):
    rows = DOCUMENTED[channel]
    got = channel_group([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    assert got.tolist() == [channel] * len(rows), list(zip(rows, got))


def test_rules_follow_googles_order_and_every_channel_is_reachable():
    assert load_rules().names == GA4_ORDER
    got = channel_group([c[1] for c in CASES], [c[2] for c in CASES], [c[3] for c in CASES])
    assert set(got) == set(GA4_ORDER)
    assert list(got.cat.categories) == GA4_ORDER  # categories in order of precedence


@pytest.mark.parametrize("source, medium, campaign, expected, why", [
    ("facebook", "cpc", "summer-shop", "Paid Shopping", "Paid Shopping precedes Paid Social"),
    ("google", "cpc", "brand-cross-network", "Cross-network", "Cross-network precedes every paid channel"),
    ("google", "cpm", None, "Paid Search", "cpm matches the paid regex; Paid Search precedes Display"),
    ("partner", "cpm", None, "Display", "Display precedes Paid Other"),
    ("youtube", "display", None, "Display", "Display precedes Organic Video"),
    ("facebook", "email", None, "Organic Social", "a social site precedes the Email medium"),
    ("google", "referral", None, "Organic Search", "a search site precedes the Referral medium"),
    ("facebook", "video", None, "Organic Social", "Organic Social precedes Organic Video"),
    ("youtube", "organic", None, "Organic Video", "Organic Video precedes Organic Search"),
    ("amazon", "social", None, "Organic Shopping", "Organic Shopping precedes Organic Social"),
    ("(direct)", "(none)", "shopping", "Direct", "Direct comes first"),
    ("sms", "email", None, "Email", "Email precedes SMS"),
    ("partner", "paid-push", None, "Paid Other", "Paid Other precedes Mobile Push Notifications"),
    ("partner", "cpc", "workshop", "Paid Other", "[^a-df-z]shop: 'workshop' is no shopping campaign"),
    ("partner", "cpc", "eshop", "Paid Shopping", "[^a-df-z]shop lets 'e' through: 'eshop' is one"),
    ("partner", "cpc", "Black Friday SHOP", "Paid Shopping", "' shop' after a space, any case"),
])
def test_precedence(source, medium, campaign, expected, why):
    assert _one(source, medium, campaign) == expected, why


def test_case_is_ignored_as_ga4_does():
    rows = [("Google", "CPC", None, "Paid Search"), ("FaceBook", "Paid_Social", None, "Paid Social"),
            ("NEWSLETTER", "Email", None, "Email"), ("google shopping", "cpc", None, "Paid Shopping"),
            ("IGSHOPPING", "Referral", None, "Organic Shopping"), ("x", "y", "Brand Cross-Network", "Cross-network"),
            ("(Direct)", "(NONE)", None, "Direct"), ("Partner", "Affiliate", None, "Affiliates")]
    got = channel_group(*(list(col) for col in zip(*[r[:3] for r in rows])))
    assert got.tolist() == [r[3] for r in rows]


def test_regexes_match_whole_values_as_ga4_does():
    # GA4's "matches regex" is a full match: 'email' inside another word is not the Email medium (dbt-ga4's
    # REGEXP_CONTAINS would say Email here), and 'cpc' needs the whole-value pattern ^(.*cp.*|…)$.
    assert _one("partner", "email-blast") == "Unassigned"
    assert _one("newsletter-email", "weekly") == "Unassigned"
    assert _one("partner", "video-ad") == "Organic Video"  # ^(.*video.*)$ allows text around 'video'


def test_missing_values_are_one_thing():
    got = channel_group(["facebook", "facebook", "facebook", "facebook"], [None, np.nan, "", pd.NA],
                        [None, "", np.nan, None])
    assert got.tolist() == ["Organic Social"] * 4
    assert _one(None, None, None) == _one("", "", "") == _one(np.nan, np.nan) == "Direct"


def test_referrer_alone_gives_source_and_medium():
    refs = ["https://www.google.com/search?q=shoes", "https://www.google.co.uk/", "https://l.facebook.com/l.php?u=x",
            "https://m.youtube.com/watch?v=1", "https://www.ebay.com/itm/1", "https://blog.example.org/post",
            "https://user@www.bing.com:443/search", "", None]
    got = channel_group(None, None, referrer=refs)
    assert got.tolist() == ["Organic Search", "Organic Search", "Organic Social", "Organic Video", "Organic Shopping",
                            "Referral", "Organic Search", "Direct", "Direct"]


def test_utm_source_and_medium_win_over_the_referrer():
    got = channel_group(["newsletter", None, None], ["email", None, "cpc"],
                        referrer=["https://www.google.com/", "https://www.google.com/", "https://www.google.com/"])
    # a row with a medium keeps its (missing) source: GA4 uses the referrer only for untagged visits
    assert got.tolist() == ["Email", "Organic Search", "Paid Other"]


def _write_rules(tmp_path, text, categories=None):
    if categories is not None:
        (tmp_path / "sites.csv").write_text(categories, encoding="utf-8")
    p = tmp_path / "rules.yml"
    p.write_text(text, encoding="utf-8")
    return p


def test_user_rules_file_overrides_the_default(tmp_path):
    p = _write_rules(tmp_path, """
source_categories: sites.csv
otherwise: Other
channels:
  - channel: Newsletter
    any:
      - {medium: {in_list: [email, newsletter]}}
      - {source: {begins_with: mailchimp}}
  - channel: Partners
    any:
      - {source_category: {exact: partner}, medium: {partial_regexp: '(ref|aff)'}}
  - channel: Blog
    any:
      - {source: {exact: blog.example.org}, medium: {exact: referral}}
  - channel: Google
    any:
      - {source: {ends_with: oogle}}
""", categories="source,source_category\nAcme.example,PARTNER\n")
    got = channel_group(["newsletter", "MailChimp-EU", "acme.example", "acme.example", "google", None, "facebook"],
                        ["NewsLetter", "x", "referral", "display", "cpc", None, "cpc"],
                        referrer=[None, None, None, None, None, "https://www.blog.example.org/p", None], rules=p)
    assert got.tolist() == ["Newsletter", "Newsletter", "Partners", "Other", "Google", "Blog", "Other"]
    assert list(got.cat.categories) == ["Newsletter", "Partners", "Blog", "Google", "Other"]
    assert channel_group(["google"], ["cpc"], rules=str(p)).tolist() == ["Google"]  # a str path too


def test_user_rules_without_categories_use_the_ga4_list(tmp_path):
    p = _write_rules(tmp_path, "channels:\n  - channel: Social\n    any:\n"
                               "      - {source_category: {exact: source_category_social}}\n")
    assert channel_group(["facebook", "google"], ["cpc", "cpc"], rules=p).tolist() == ["Social", "Unassigned"]


@pytest.mark.parametrize("text, says", [
    ("channels: []\n", "channels:"),
    ("channels:\n  - {channel: X, any: [{sauce: {exact: a}}]}\n", "unknown field"),
    ("channels:\n  - {channel: X, any: [{medium: {like: a}}]}\n", "a test is one of"),
    ("channels:\n  - {channel: X, any: [{medium: {full_regexp: '(unclosed'}}]}\n", "not a valid regular expression"),
    ("channels:\n  - {channel: X, any: [{medium: {in_list: []}}]}\n", "in_list needs"),
    ("channels:\n  - {channel: X}\n", "exactly the keys"),
    ("channels: [\n", "not valid YAML"),
    ("source_categories: nowhere.csv\nchannels:\n  - {channel: X, any: [{medium: {exact: a}}]}\n",
     "source_categories file not found"),
])
def test_a_malformed_rules_file_is_one_dataerror_naming_it(tmp_path, text, says):
    p = _write_rules(tmp_path, text)
    with pytest.raises(DataError, match=re.escape(says)) as err:
        channel_group(["a"], ["b"], rules=p)
    assert str(p) in str(err.value) and "\n" not in str(err.value)


def test_a_missing_rules_file_is_a_dataerror(tmp_path):
    with pytest.raises(DataError, match="channel rules file not found"):
        channel_group(["a"], ["b"], rules=tmp_path / "nope.yml")


def test_inputs_are_checked_and_the_index_kept():
    with pytest.raises(ValueError, match="one value per row"):
        channel_group(["google", "bing"], ["cpc"])
    with pytest.raises(ValueError, match="source must be a one-dimensional"):
        channel_group("google", "cpc")
    with pytest.raises(ValueError, match="needs source and medium, or referrer"):
        channel_group(None, None, campaign=["x"])
    src = pd.Series(["google", "facebook"], index=[10, 3], dtype="string")
    got = channel_group(src, pd.Series(["cpc", "cpc"], dtype="category"))
    assert got.index.tolist() == [10, 3] and got.name == "channel"
    assert got.tolist() == ["Paid Search", "Paid Social"]
    assert channel_group([], []).empty  # no rows, no channels


def test_100k_rows_run_vectorized(monkeypatch):
    """The rules run on distinct combinations: the string tests see as many values for 100k rows as for
    one copy of the cases (no per-row Python work), and every row gets its case's channel."""
    seen = []
    real = channels._matches

    def spy(values, cond):
        seen.append(len(values))
        return real(values, cond)

    monkeypatch.setattr(channels, "_matches", spy)
    cols = [[c[i] for c in CASES] for i in (1, 2, 3)]
    small = channel_group(*cols)
    calls_small, seen[:] = list(seen), []
    reps = -(-100_000 // len(CASES))
    big = channel_group(*(np.tile(np.array(col, dtype=object), reps) for col in cols))
    assert len(big) == reps * len(CASES) >= 100_000
    assert seen == calls_small and max(seen) <= len(CASES)
    assert (big.to_numpy() == np.tile(small.to_numpy(), reps)).all()
    assert small.tolist() == [c[0] for c in CASES]


def test_ga4_note_is_one_sentence_saying_approximation():
    assert GA4_NOTE.count(". ") == 0 and GA4_NOTE.endswith(".")
    assert "approximat" in GA4_NOTE and "gclid" in GA4_NOTE


def test_source_category_list_is_the_documented_copy():
    path = channels.DATA / "ga4_source_categories.csv"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest in (channels.DATA / "NOTICE.md").read_text(encoding="utf-8")
    cats = load_rules().source_categories
    counts = pd.Series(list(cats.values())).value_counts().to_dict()
    assert counts == {"SOURCE_CATEGORY_SOCIAL": 592, "SOURCE_CATEGORY_SEARCH": 129, "SOURCE_CATEGORY_SHOPPING": 52,
                      "SOURCE_CATEGORY_VIDEO": 46}


def test_module_examples_run():
    res = doctest.testmod(channels, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 3 and res.failed == 0


def test_the_format_documented_in_the_module_docstring_loads(tmp_path):
    doc = channels.__doc__
    block = doc[doc.index("YAML::") + len("YAML::"):doc.index("Fields:")]
    (tmp_path / "rules.yml").write_text(block, encoding="utf-8")
    (tmp_path / "my_sites.csv").write_text("source,source_category\nexample-engine,SOURCE_CATEGORY_SEARCH\n",
                                           encoding="utf-8")
    got = channel_group(["example-engine", "acme", "mailchimp", "google"], ["cpc", "newsletter", "x", "cpc"],
                        rules=tmp_path / "rules.yml")
    assert got.tolist() == ["Paid Search", "Newsletter", "Newsletter", "Unassigned"]
