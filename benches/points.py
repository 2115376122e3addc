#!/usr/bin/env python3
"""Writes N deterministic points (id,lon,lat; WGS84) uniform over a box, as CSV on stdout.

The generator is SplitMix64, the same as benches/assign.rs, so every tool gets the same points.
Usage: points.py N MIN_LON MIN_LAT MAX_LON MAX_LAT
"""
import sys

MASK = (1 << 64) - 1


def splitmix(seed):
    s = seed
    while True:
        s = (s + 0x9E3779B97F4A7C15) & MASK
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield ((z ^ (z >> 31)) >> 11) / float(1 << 53)


def main():
    n = int(sys.argv[1])
    x0, y0, x1, y1 = map(float, sys.argv[2:6])
    rnd = splitmix(20231)
    out = sys.stdout
    out.write("id,lon,lat\n")
    for i in range(n):
        x = x0 + next(rnd) * (x1 - x0)
        y = y0 + next(rnd) * (y1 - y0)
        out.write(f"{i},{x!r},{y!r}\n")


if __name__ == "__main__":
    main()
