"""Labeling functions for the YouTube comment spam data (label 1 = spam, 0 = ham).

Three LF sets: keywords, regular expressions and length heuristics of the kind one writes in
an afternoon. ``LF_SETS`` maps a set name to its list of LFs.
"""

from __future__ import annotations

import re

from labelloop.weak import ABSTAIN, keyword_lf, labeling_function, regex_lf

HAM, SPAM = 0, 1


@labeling_function
def short_comment(x):
    """Ham comments are often short."""
    return HAM if len(x.CONTENT.split()) < 5 else ABSTAIN


@labeling_function
def long_comment(x):
    """Very long comments are often promotional."""
    return SPAM if len(x.CONTENT.split()) > 40 else ABSTAIN


@labeling_function
def many_capitals(x):
    letters = [c for c in x.CONTENT if c.isalpha()]
    if len(letters) >= 15 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        return SPAM
    return ABSTAIN


@labeling_function
def mentions_views(x):
    return HAM if re.search(r"\b(billion|million)\b.*\bviews?\b", x.CONTENT, re.I) else ABSTAIN


@labeling_function
def has_song(x):
    return HAM if "song" in x.CONTENT.lower() else ABSTAIN


F = "CONTENT"
kw_my = keyword_lf("keyword_my", ["my"], SPAM, field=F)
kw_subscribe = keyword_lf("keyword_subscribe", ["subscribe"], SPAM, field=F, stem=True)
kw_link = keyword_lf("keyword_link", ["http", "https", "www", ".com"], SPAM, field=F, word_boundary=False)
kw_please = keyword_lf("keyword_please", ["please", "plz", "pls"], SPAM, field=F)
kw_song = keyword_lf("keyword_song", ["song"], HAM, field=F)
rx_check_out = regex_lf("regex_check_out", r"check.*out", SPAM, field=F)
kw_money = keyword_lf("keyword_money", ["money", "cash", "earn", "free", "gift card", "paypal"], SPAM, field=F)
kw_channel = keyword_lf("keyword_channel", ["channel", "videos", "my video"], SPAM, field=F)
rx_love = regex_lf("regex_love", r"\b(love|like|best|awesome|amazing)\b.*\b(song|video|her|him|shakira|katy|eminem)\b", HAM, field=F)
kw_artist = keyword_lf("keyword_artist", ["shakira", "katy", "eminem", "psy", "lmfao", "rihanna"], HAM, field=F)
rx_emoji_only = regex_lf("regex_laugh", r"^\W*(lol|haha\w*|xd|omg|wow)\W*$", HAM, field=F)
kw_follow = keyword_lf("keyword_follow", ["follow me", "add me", "like this comment", "thumbs up"], SPAM, field=F)

LF_SETS = {
    # the classic tutorial set: keywords, a regex and a length heuristic (ten LFs)
    "tutorial10": [kw_my, kw_subscribe, kw_link, kw_please, kw_song, rx_check_out, short_comment,
                   kw_money, kw_channel, kw_follow],
    # five LFs: three spam keywords/regexes, two ham heuristics
    "small5": [kw_subscribe, kw_link, kw_song, rx_check_out, short_comment],
    # the LFs of the project CLI test: three spam rules and one or two ham heuristics
    "cli4": [keyword_lf("subscribe_my_channel", ["subscribe", "my channel"], SPAM, field=F, stem=True),
             regex_lf("url", r"https?://|www\.", SPAM, field=F), rx_check_out, short_comment],
    "cli5": [keyword_lf("subscribe_my_channel", ["subscribe", "my channel"], SPAM, field=F, stem=True),
             regex_lf("url", r"https?://|www\.", SPAM, field=F), rx_check_out, short_comment, has_song],
    # keywords only, mostly spam-side (six LFs)
    "keywords6": [kw_my, kw_subscribe, kw_link, kw_please, kw_song, kw_channel],
    # a wider mixed set with both polarities and noisier heuristics (fourteen LFs)
    "mixed14": [kw_my, kw_subscribe, kw_link, kw_please, kw_song, rx_check_out, short_comment,
                long_comment, many_capitals, mentions_views, rx_love, kw_artist, rx_emoji_only, kw_follow],
}
