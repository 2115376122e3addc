#!/usr/bin/env python3
"""Compares the features of two tile servers tile by tile: for every `z,x,y` line of a file,
fetches the tile from both, decodes the Mapbox Vector Tile (a minimal protobuf reader, no
dependencies) and compares the `code` property of the features of layer `grid`. Prints one line per
disagreeing tile and a summary line `AGREE n of m tiles`.
Usage: mvt_compare.py TILES URL_A URL_B   (URL_x: a prefix such as http://127.0.0.1:8080/tiles/grid,
with an optional suffix after a '|', e.g. 'http://h/tiles/grid|.mvt')"""
import gzip
import sys
import urllib.request


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf):
    """Yields (field number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(buf, i)
        elif wire == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        yield field, wire, v


def codes(tile, layer_name=b"grid"):
    out = []
    for f, _, layer in fields(tile):
        if f != 3:
            continue
        name, keys, values, feats = None, [], [], []
        for lf, _, v in fields(layer):
            if lf == 1:
                name = v
            elif lf == 3:
                keys.append(v.decode())
            elif lf == 4:
                values.append(next((x for vf, _, x in fields(v) if vf == 1), b"").decode())
            elif lf == 2:
                feats.append(v)
        if name != layer_name:
            continue
        for feat in feats:
            tags = []
            for ff, _, v in fields(feat):
                if ff == 2:
                    j = 0
                    while j < len(v):
                        t, j = varint(v, j)
                        tags.append(t)
            props = {keys[tags[k]]: values[tags[k + 1]] for k in range(0, len(tags) - 1, 2)}
            out.append(props.get("code", "?"))
    return out


def fetch(prefix, z, x, y):
    base, _, suffix = prefix.partition("|")
    req = urllib.request.Request(f"{base}/{z}/{x}/{y}{suffix}", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req) as r:
        body = r.read()
        if r.headers.get("Content-Encoding") == "gzip" or body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        return body


def main():
    tiles, a, b = sys.argv[1:4]
    agree = total = 0
    for line in open(tiles):
        z, x, y = map(int, line.split(","))
        ca, cb = sorted(codes(fetch(a, z, x, y))), sorted(codes(fetch(b, z, x, y)))
        total += 1
        if ca == cb:
            agree += 1
        else:
            only_a = sorted(set(ca) - set(cb))
            only_b = sorted(set(cb) - set(ca))
            print(f"DIFF {z}/{x}/{y}: {len(ca)} vs {len(cb)} features; only first: {only_a}; only second: {only_b}")
    print(f"AGREE {agree} of {total} tiles")


main()
