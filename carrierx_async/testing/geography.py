"""Where the fake's numbers are, and the ``nearby`` filter predicate (reference 4.2).
A fixed table of localities (country, state, area codes, coordinates, ZIP codes, LATA and a
weight for how often the generator picks each), the lookups derived from it, and ``_near``:
``npa:`` matches the number's area code, ``zip:``/``latlng:`` match when the number's
locality lies within ``NEARBY_KM`` (great-circle distance) of the point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import attrs

#: Radius of ``phonenumber nearby zip:``/``latlng:`` in kilometres (an assumption, 4.2).
NEARBY_KM: Final = 50.0


@attrs.frozen
class _Locality:
    name: str
    state: str | None
    country: str
    area_codes: tuple[int, ...]
    lat: float
    lng: float
    zips: tuple[str, ...]
    lata: str | None
    weight: int


_LOCALITIES: Final = (
    _Locality("NEW YORK", "NY", "USA", (212, 646, 917), 40.7128, -74.0060,
              ("10001", "10025", "10036"), "132", 14),
    _Locality("BROOKLYN", "NY", "USA", (718, 347), 40.6782, -73.9442, ("11201", "11215"), "132", 6),
    _Locality("HEMPSTEAD", "NY", "USA", (516,), 40.7062, -73.6187, ("11550", "11551"), None, 4),
    _Locality("ALBANY", "NY", "USA", (518,), 42.6526, -73.7562, ("12203", "12207"), "130", 3),
    _Locality("LOS ANGELES", "CA", "USA", (213, 310, 323), 34.0522, -118.2437,
              ("90001", "90012", "90028"), "730", 12),
    _Locality("SAN FRANCISCO", "CA", "USA", (415, 628), 37.7749, -122.4194,
              ("94102", "94103", "94110"), "722", 8),
    _Locality("SAN DIEGO", "CA", "USA", (619, 858), 32.7157, -117.1611,
              ("92101", "92103"), "732", 5),
    _Locality("CHICAGO", "IL", "USA", (312, 773), 41.8781, -87.6298, ("60601", "60614"), "358", 10),
    _Locality("HOUSTON", "TX", "USA", (713, 832), 29.7604, -95.3698, ("77002", "77006"), "560", 8),
    _Locality("DALLAS", "TX", "USA", (214, 469), 32.7767, -96.7970, ("75201", "75204"), "552", 7),
    _Locality("MIAMI", "FL", "USA", (305, 786), 25.7617, -80.1918, ("33101", "33130"), "460", 7),
    _Locality("SALT LAKE CITY", "UT", "USA", (801, 385), 40.7608, -111.8910,
              ("84101", "84111"), "660", 5),
    _Locality("SEATTLE", "WA", "USA", (206,), 47.6062, -122.3321, ("98101", "98109"), "674", 6),
    _Locality("DENVER", "CO", "USA", (303, 720), 39.7392, -104.9903, ("80202", "80205"), None, 5),
    _Locality("LONDON", None, "GBR", (20,), 51.5074, -0.1278, (), None, 4),
    _Locality("MANCHESTER", None, "GBR", (161,), 53.4808, -2.2426, (), None, 2),
)  # fmt: skip
_WEIGHTED: Final = tuple(loc for loc in _LOCALITIES for _ in range(loc.weight))
_BY_PLACE: Final = {(loc.country, loc.state, loc.name): loc for loc in _LOCALITIES}
_ZIPS: Final = {z: (loc.lat, loc.lng) for loc in _LOCALITIES for z in loc.zips}


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _near(record: Mapping[str, Any], kind: str, value: Any) -> bool:
    """The ``nearby`` predicate (4.2): npa = area code; zip/latlng = within NEARBY_KM."""
    number = record.get("phonenumber")
    if kind == "npa":
        return isinstance(number, str) and len(number) == 11 and number[:4] == "1" + value
    point = value if kind == "latlng" else _ZIPS.get(value)
    place = (record.get("country_code"), record.get("state"), record.get("locality"))
    loc = _BY_PLACE.get(place)  # type: ignore[arg-type]
    if point is None or loc is None:
        return False
    return _distance_km(point, (loc.lat, loc.lng)) <= NEARBY_KM
