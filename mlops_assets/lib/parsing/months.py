"""Abbreviated month names as ``strftime("%b")`` prints them in glibc locales (journalctl, syslog).

journalctl's ``short`` format is ``%b %d %H:%M:%S`` in the reader's locale, so an export made under
``LANG=de_DE.UTF-8`` says ``Okt 11``, under ``zh_CN`` ``10月 11``, under ``ja_JP`` `` 1月 05``. The
tables below cover the locales most servers run; a name none of them knows is quarantined as
``unknown_month_name`` with the fix (re-export with ``LC_ALL=C``), never guessed. Every token maps
to one month in every locale listed (checked at import), so no locale needs to be named.
"""

from __future__ import annotations

_C = "jan feb mar apr may jun jul aug sep oct nov dec"
ABBREVIATED: dict[str, str] = {
    "C/en": _C,
    "de": "jan feb mär apr mai jun jul aug sep okt nov dez",
    "de (ascii)": "jan feb mrz apr mai jun jul aug sep okt nov dez",
    "fr": "janv févr mars avr mai juin juil août sept oct nov déc",
    "fr (long)": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "ene feb mar abr may jun jul ago sep oct nov dic",
    "es (sept)": "ene feb mar abr may jun jul ago sept oct nov dic",
    "it": "gen feb mar apr mag giu lug ago set ott nov dic",
    "pt": "jan fev mar abr mai jun jul ago set out nov dez",
    "nl": "jan feb mrt apr mei jun jul aug sep okt nov dec",
    "sv/da": "jan feb mar apr maj jun jul aug sep okt nov dec",
    "nb": "jan feb mar apr mai jun jul aug sep okt nov des",
    "fi": "tammi helmi maalis huhti touko kesä heinä elo syys loka marras joulu",
    "pl": "sty lut mar kwi maj cze lip sie wrz paź lis gru",
    "cs": "led úno bře dub kvě čvn čvc srp zář říj lis pro",
    "cs (glibc)": "led úno bře dub kvě čen čec srp zář říj lis pro",
    "ro": "ian feb mar apr mai iun iul aug sep oct nov dec",
    "hu": "jan febr márc ápr máj jún júl aug szept okt nov dec",
    "tr": "oca şub mar nis may haz tem ağu eyl eki kas ara",
    "ru": "янв фев мар апр мая июн июл авг сен окт ноя дек",
    "ru (nominative)": "янв фев мар апр май июн июл авг сен окт ноя дек",
    "uk": "січ лют бер кві тра чер лип сер вер жов лис гру",
    "el": "ιαν φεβ μαρ απρ μαΐ ιουν ιουλ αυγ σεπ οκτ νοε δεκ",
    "el (unaccented)": "ιαν φεβ μαρ απρ μαι ιουν ιουλ αυγ σεπ οκτ νοε δεκ",
    "zh/ja": " ".join(f"{m}月" for m in range(1, 13)),
    "ko": " ".join(f"{m}월" for m in range(1, 13)),
}
LOCALES = tuple(ABBREVIATED)
LC_ALL_FIX = "re-export with LC_ALL=C (e.g. LC_ALL=C journalctl -o short-iso) or use -o json"


def _table() -> dict[str, int]:
    table: dict[str, int] = {}
    for locale, names in ABBREVIATED.items():
        tokens = names.split()
        if len(tokens) != 12:
            raise AssertionError(f"month table {locale!r} has {len(tokens)} names")
        for month, token in enumerate(tokens, start=1):
            if table.setdefault(token, month) != month:
                raise AssertionError(f"month name {token!r} is ambiguous across locales ({locale})")
    return table


MONTHS: dict[str, int] = _table()


def month_number(token: str) -> int | None:
    """1..12 for a month name of any covered locale (case-insensitive, trailing dot ignored)."""
    return MONTHS.get(token.strip().rstrip(".").lower())
