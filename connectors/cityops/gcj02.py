"""GCJ-02 (国测局坐标, "Mars coordinates") to WGS-84 and back.

Chinese maps and the feeds built on them (AMap/高德, Tencent, the city's 12345 platform) give
points in GCJ-02, a deliberately distorted datum; the hub keeps WGS-84 (RFC 7946 GeoJSON). The
forward formula below is the well-known published one (as in the MIT-licensed `eviltransform`
and `coordtransform` libraries): a Krasovsky-ellipsoid offset of up to a few hundred metres. It
has no closed inverse, so `gcj_to_wgs` inverts it by fixed-point iteration to well under a
millimetre. Points outside mainland China's rough bounding box are not shifted, as the
formula's users agree.
"""

from __future__ import annotations

import math

_A = 6378245.0
"""Semi-major axis of the Krasovsky 1940 ellipsoid that GCJ-02 uses."""
_EE = 0.00669342162296594323
"""Its first eccentricity squared."""


def out_of_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _lat_offset(x: float, y: float) -> float:
    value = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    value += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    value += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    value += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return value


def _lon_offset(x: float, y: float) -> float:
    value = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    value += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    value += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    value += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return value


def _delta(lon: float, lat: float) -> tuple[float, float]:
    dlat = _lat_offset(lon - 105.0, lat - 35.0)
    dlon = _lon_offset(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    root = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * root) * math.pi)
    dlon = (dlon * 180.0) / (_A / root * math.cos(radlat) * math.pi)
    return dlon, dlat


def wgs_to_gcj(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 (lon, lat) to GCJ-02 (lon, lat)."""
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj_to_wgs(lon: float, lat: float, *, tolerance: float = 1e-10) -> tuple[float, float]:
    """GCJ-02 (lon, lat) to WGS-84 (lon, lat), by iterating the forward formula until it
    reproduces the given point within `tolerance` degrees (about 10 µm at 1e-10)."""
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _delta(lon, lat)
    wgs_lon, wgs_lat = lon - dlon, lat - dlat
    for _ in range(30):
        there_lon, there_lat = wgs_to_gcj(wgs_lon, wgs_lat)
        error_lon, error_lat = there_lon - lon, there_lat - lat
        if abs(error_lon) < tolerance and abs(error_lat) < tolerance:
            break
        wgs_lon, wgs_lat = wgs_lon - error_lon, wgs_lat - error_lat
    return wgs_lon, wgs_lat
