#!/usr/bin/env python3
"""Prints the benchmark's tiles as `z,x,y` lines: every tile meeting the box at z12-z14 and a
deterministic sample of 200 of those meeting it at z15 and z16 (fixed seed per zoom).
Usage: tile_list.py WEST SOUTH EAST NORTH"""
import math
import random
import sys

w, s, e, n = map(float, sys.argv[1:5])


def tile(z, lon, lat):
    k = 2**z
    x = (lon + 180) / 360 * k
    r = math.radians(lat)
    y = (1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * k
    return int(x), int(y)


for z in range(12, 17):
    x0, y0 = tile(z, w, n)
    x1, y1 = tile(z, e, s)
    tiles = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    if z >= 15:
        tiles = sorted(random.Random(z).sample(tiles, 200))
    for t in tiles:
        print("%d,%d,%d" % t)
