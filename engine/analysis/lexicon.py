"""Swedish vocabulary the deterministic signals match against (lower case, stems).

Matching is by word prefix, so ``kassa`` also finds ``kassan``/``kassorna``.
These lists are data, not logic: extend them freely.
"""

from __future__ import annotations

# Departments a Swedish store commonly has. A customer naming one the store
# does not list is a context indicator (only when the store's profile is known).
COMMON_DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "frukt och grönt": ("frukt", "grönsak", "grönt"),
    "bageri": ("bageri", "bröd", "bullar"),
    "chark": ("chark", "korv", "pålägg"),
    "kött": ("köttdisk", "kött", "färs"),
    "fisk": ("fisk", "skaldjur", "räkor"),
    "mejeri": ("mejeri", "mjölk", "yoghurt", "ost"),
    "frys": ("frys", "glass"),
    "delikatess": ("deli", "delikatess", "manuell"),
    "kassa": ("kassa", "kassor", "självscanning", "självutcheckning"),
    "apotek": ("apotek", "receptfri", "medicin"),
    "blommor": ("blommor", "blomster", "blomsteravdelning"),
    "kläder": ("kläd", "klädavdelning"),
    "elektronik": ("elektronik", "hörlurar", "laddare", "mobiltelefon"),
    "leksaker": ("leksak",),
    "café": ("café", "kafé", "kafeteria"),
    "postombud": ("postombud", "paketutlämning"),
    "pant": ("pant", "pantmaskin", "pantautomat"),
    "systembolag": ("systembolag", "vinavdelning", "sprit"),
    "bensin": ("bensin", "tanka", "tankade", "macken"),
    "sushi": ("sushi", "sushibar"),
    "restaurang": ("restaurang", "lunchbuffé"),
    "hem och hushåll": ("hushåll", "köksredskap"),
    "bilverkstad": ("bilverkstad", "verkstad", "däckbyte"),
}

# Words that name a place in a store. A common department only counts as "named" by a
# customer (for the context check) when said as a place: its name, one of these places,
# or a stem compounded with a place head ("blomster" + "avdelningen"). Saying "brödet"
# does not claim the store has a bakery; "bageriet" does.
DEPARTMENT_PLACES: dict[str, tuple[str, ...]] = {
    "bageri": ("bageri",),
    "fisk": ("fiskdisk", "fiskavdelning"),
    "kött": ("köttdisk",),
    "delikatess": ("delikatessdisk", "manuell disk"),
    "apotek": ("apotek",),
    "blommor": ("blomsteravdelning", "blomsterhandel", "blomsterdisk"),
    "café": ("café", "kafé", "kafeteria"),
    "postombud": ("postombud", "paketutlämning"),
    "pant": ("pantmaskin", "pantautomat"),
    "systembolag": ("systembolag",),
    "bensin": ("bensinstation", "bensinmack", "macken"),
    "sushi": ("sushibar", "sushidisk"),
    "restaurang": ("restaurang",),
    "bilverkstad": ("bilverkstad", "verkstad"),
}
PLACE_HEADS = ("avdelning", "disk", "bar", "hylla", "hyllor", "sektion", "verkstad", "butik", "handel")

# Topics of feedback → (stems). The report groups issues by (department, topic).
TOPICS: dict[str, tuple[str, ...]] = {
    "kö och väntetid": ("kö", "köer", "vänta", "väntetid", "väntade", "långsam"),
    "personal och bemötande": (
        "personal",
        "bemötande",
        "trevlig",
        "otrevlig",
        "hjälpsam",
        "expedit",
        "kassörska",
    ),
    "pris": ("pris", "dyr", "billig", "prisvärd", "erbjudande", "rea", "extrapris"),
    "sortiment och tillgång": (
        "slut",
        "saknade",
        "sortiment",
        "utbud",
        "tomma hyllor",
        "fanns inte",
        "hittade inte",
    ),
    "renlighet och ordning": ("ren", "smutsig", "skräp", "städ", "stökig", "rörig", "ordning"),
    "fräschhet och kvalitet": (
        "fräsch",
        "färsk",
        "mögel",
        "gammal",
        "övermogen",
        "kvalitet",
        "dålig kvalitet",
    ),
    "kassa och betalning": ("kassa", "betal", "kort", "självscanning", "kvitto"),
    "skyltning och hitta": ("skylt", "hitta", "hittade", "skyltning", "rörigt"),
    "parkering och tillgänglighet": ("parkering", "ingång", "rullstol", "tillgänglig"),
}

POSITIVE = (
    "bra",
    "bäst",
    "trevlig",
    "fräsch",
    "snabb",
    "nöjd",
    "god",
    "gott",
    "utmärkt",
    "fantastisk",
    "härlig",
    "hjälpsam",
    "ren",
    "prisvärd",
    "smidig",
    "fin",
    "perfekt",
    "toppen",
    "lätt att hitta",
    "gillar",
    "gillade",
)

NEGATIVE = (
    "dålig",
    "sämre",
    "långsam",
    "lång kö",
    "långa köer",
    "kö",
    "slut",
    "saknade",
    "dyr",
    "otrevlig",
    "smutsig",
    "trasig",
    "krånglig",
    "tråkig",
    "sur",
    "rörig",
    "stökig",
    "irriterande",
    "tomma",
    "väntade",
    "mögel",
    "gammal",
    "övermogen",
    "svårt att hitta",
    "hittade inte",
    "fanns inte",
    "borde",
    "kunde ha varit bättre",
)

NEGATIONS = ("inte", "ingen", "inga", "aldrig", "inget")

# Whole answers that say nothing. Compared after normalisation.
GENERIC_ANSWERS = frozenset(
    {
        "bra",
        "det var bra",
        "det var bra tack",
        "allt var bra",
        "helt okej",
        "okej",
        "ok",
        "ja",
        "nej",
        "jo",
        "vet inte",
        "jag vet inte",
        "ingen aning",
        "inget",
        "inget speciellt",
        "inget särskilt",
        "det var fint",
        "fint",
        "som vanligt",
        "det var som vanligt",
        "kanske",
        "mm",
        "nja",
        "det minns jag inte",
        "minns inte",
    }
)

TIME_PATTERNS = (
    r"\bkl(?:ockan|\.)?\s*\d{1,2}(?:[:.]\d{2})?",
    r"\b\d{1,2}[:.]\d{2}\b",
    r"\bi (?:morse|går|förmiddags|eftermiddags|kväll|lunchas)\b",
    r"\b(?:måndag|tisdag|onsdag|torsdag|fredag|lördag|söndag)(?:en|s)?\b",
    r"\b(?:lunch|rusningstid|stängning|öppning)\w*",
)

# Suggestion per topic for a negative mention (what a store owner can do).
SUGGESTIONS: dict[str, str] = {
    "kö och väntetid": "Se över bemanningen i kassan vid rusningstid.",
    "personal och bemötande": "Ta upp bemötandet med personalen.",
    "pris": "Förtydliga priser och erbjudanden.",
    "sortiment och tillgång": "Kontrollera påfyllning och beställningar av varor som tagit slut.",
    "renlighet och ordning": "Se över städrutinerna.",
    "fräschhet och kvalitet": "Kontrollera datum och kvalitet på färskvaror oftare.",
    "kassa och betalning": "Se över kassor och betalsystem.",
    "skyltning och hitta": "Förbättra skyltningen.",
    "parkering och tillgänglighet": "Se över parkering och tillgänglighet.",
    "allmänt": "Följ upp kundens synpunkt.",
}

# Departments every store has in practice; naming them is never a context violation.
UNIVERSAL_DEPARTMENTS = frozenset({"kassa"})
