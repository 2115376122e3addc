#!/usr/bin/env python3
"""A minimal Open311 GeoReport v2 client, written from the specification text
(http://wiki.open311.org/GeoReport_v2 and mySociety's servicerequestupdates extension), not
from the server's code. Standard library only: urllib, json, xml.etree.

It drives one citizen's path against a live endpoint, in both formats where the spec has
both: discovery -> services -> service definition -> POST requests -> tokens -> GET request ->
GET requests (filters, bbox) -> servicerequestupdates, checking what the spec promises:
content types, arrays of one, string ids, W3C dates with an offset, error arrays.

Usage: open311_client.py --base http://127.0.0.1:8080/open311/v2 --api-key KEY --lat 34.76 --long 113.62
Exits 0 and prints "OPEN311 CLIENT OK <n> checks" when every check passed.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

CHECKS = 0
W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def check(cond, what):
    global CHECKS
    if not cond:
        raise AssertionError(what)
    CHECKS += 1


def call(url, data=None):
    """Returns (status, content type, body bytes); errors are answers too."""
    body = None
    headers = {"Accept": "*/*"}
    if data is not None:
        body = urllib.parse.urlencode(data).encode("utf-8")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def get_json(url, data=None, expect=(200,)):
    status, ctype, body = call(url, data)
    check(status in expect, f"{url}: status {status}, expected {expect}: {body[:300]!r}")
    check(ctype.split(";")[0].strip() == "application/json", f"{url}: content type {ctype!r}")
    return status, json.loads(body.decode("utf-8"))


def get_xml(url, data=None, expect=(200,)):
    status, ctype, body = call(url, data)
    check(status in expect, f"{url}: status {status}, expected {expect}: {body[:300]!r}")
    check(ctype.split(";")[0].strip() == "text/xml", f"{url}: content type {ctype!r}")
    return status, ET.fromstring(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="the endpoint URL, ending in /open311/v2")
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--lat", type=float, required=True)
    ap.add_argument("--long", type=float, required=True)
    a = ap.parse_args()
    base = a.base.rstrip("/")

    # Service discovery.
    _, disc = get_json(f"{base}/discovery.json")
    check(isinstance(disc.get("endpoints"), list) and disc["endpoints"], "discovery lists endpoints")
    ep = disc["endpoints"][0]
    check("text/xml" in ep["formats"] and "application/json" in ep["formats"], "both formats offered")
    _, disc_x = get_xml(f"{base}/discovery.xml")
    check(disc_x.tag == "discovery" and disc_x.find("endpoints/endpoint/url") is not None, "XML discovery")

    # GET Service List.
    _, services = get_json(f"{base}/services.json")
    check(isinstance(services, list) and services, "a service list")
    for s in services:
        for f in ("service_code", "service_name", "metadata", "type", "keywords", "group"):
            check(f in s, f"service field {f}")
        check(s["type"] in ("realtime", "batch", "blackbox"), "service type")
    _, services_x = get_xml(f"{base}/services.xml")
    check(services_x.tag == "services" and len(services_x.findall("service")) == len(services), "XML service list")

    # GET Service Definition of a service with metadata.
    with_meta = [s for s in services if s["metadata"] in (True, "true")]
    check(with_meta, "some service has metadata")
    code = with_meta[0]["service_code"]
    _, definition = get_json(f"{base}/services/{urllib.parse.quote(code)}.json")
    check(definition["service_code"] == code, "definition of the service asked")
    attrs = definition["attributes"]
    check(all({"code", "datatype", "required", "order"} <= set(x) for x in attrs), "attribute fields")
    _, definition_x = get_xml(f"{base}/services/{urllib.parse.quote(code)}.xml")
    check(definition_x.find("attributes") is not None, "XML definition")
    status, err = get_json(f"{base}/services/no-such-service.json", expect=(404,))
    check(isinstance(err, list) and "code" in err[0] and "description" in err[0], "error array")

    # POST Service Request: no key is refused; with the key, a request or a token.
    plain = [s for s in services if s["metadata"] in (False, "false")]
    service = (plain or services)[0]["service_code"]
    device = "ci-device"
    client_key = str(uuid.uuid4())
    form = {
        "service_code": service,
        "lat": a.lat,
        "long": a.long,
        "description": "Open311 client test 测试",
        "email": "private-reporter@example.org",
        "first_name": "Private",
        "last_name": "Reporter",
        "phone": "10000000000",
        "device_id": device,
        "attribute[client_key]": client_key,
    }
    status, err = get_json(f"{base}/requests.json", data=form, expect=(400, 401, 403))
    check(isinstance(err, list) and err[0].get("code") is not None, "a POST without api_key gets an error array")
    form["api_key"] = a.api_key
    _, posted = get_json(f"{base}/requests.json", data=form, expect=(200, 201))
    check(isinstance(posted, list) and len(posted) == 1, "POST answers an array of one")
    first = posted[0]
    request_id = first.get("service_request_id")
    token = first.get("token")
    check(request_id is not None or token is not None, "a request id or a token")
    # A retry (same device and client key) is the same request.
    _, retried = get_xml(f"{base}/requests.xml", data=form, expect=(200, 201))
    check(retried.tag == "service_requests", "XML POST answer")
    if request_id is not None:
        check(isinstance(request_id, str), "service_request_id is a string")
        check(retried.findtext("request/service_request_id") == request_id, "a retry is the same request")

    # GET request id from a token.
    if token is not None:
        _, by_token = get_json(f"{base}/tokens/{urllib.parse.quote(token)}.json")
        check(len(by_token) == 1, "token answers an array of one")
        if request_id is None:
            request_id = by_token[0]["service_request_id"]
        check(by_token[0]["service_request_id"] == request_id, "the token names the request")
        _, by_token_x = get_xml(f"{base}/tokens/{urllib.parse.quote(token)}.xml")
        check(by_token_x.findtext("request/service_request_id") == request_id, "XML token")

    # GET Service Request.
    _, one = get_json(f"{base}/requests/{urllib.parse.quote(request_id)}.json")
    check(isinstance(one, list) and len(one) == 1, "a single request is an array of one")
    r = one[0]
    check(r["service_request_id"] == request_id and r["service_code"] == service, "the request as posted")
    check(r["status"] in ("open", "closed"), "status open or closed")
    check(W3C.match(r["requested_datetime"]) is not None, f"W3C date with offset: {r['requested_datetime']}")
    check(abs(float(r["lat"]) - a.lat) < 1e-4 and abs(float(r["long"]) - a.long) < 1e-4, "the place as posted")
    _, one_x = get_xml(f"{base}/requests/{urllib.parse.quote(request_id)}.xml")
    check(one_x.tag == "service_requests" and one_x.findtext("request/service_request_id") == request_id, "XML request")

    # GET Service Requests with filters and the bbox extension.
    _, listed = get_json(f"{base}/requests.json?service_code={urllib.parse.quote(service)}&status=open")
    check(any(x["service_request_id"] == request_id for x in listed), "listed by service_code and status")
    d = 0.002
    bbox = f"{a.long - d},{a.lat - d},{a.long + d},{a.lat + d}"
    _, boxed = get_json(f"{base}/requests.json?bbox={bbox}")
    check(any(x["service_request_id"] == request_id for x in boxed), "found by bbox")
    _, boxed_x = get_xml(f"{base}/requests.xml?bbox={bbox}")
    check(any(e.findtext("service_request_id") == request_id for e in boxed_x.findall("request")), "XML bbox")
    _, err = get_json(f"{base}/requests.json?start_date=not-a-date", expect=(400,))
    check(err[0]["code"] is not None, "a bad date is an error array")

    # GET servicerequestupdates (mySociety).
    _, updates = get_json(f"{base}/servicerequestupdates.json")
    ours = [u for u in updates if u["service_request_id"] == request_id]
    check(ours, "the new request has an update")
    for f in ("update_id", "service_request_id", "status", "updated_datetime", "description"):
        check(f in ours[0], f"update field {f}")
    _, updates_x = get_xml(f"{base}/servicerequestupdates.xml")
    check(updates_x.find("request_update") is not None, "XML updates")

    # Nothing of the reporter's contact comes back anywhere public.
    for url in (f"{base}/requests/{request_id}.json", f"{base}/requests.xml?bbox={bbox}", f"{base}/servicerequestupdates.json"):
        _, _, body = call(url)
        text = body.decode("utf-8")
        for secret in ("private-reporter@example.org", "10000000000", "Private", "Reporter"):
            check(secret not in text, f"{url} leaks {secret}")

    print(f"OPEN311 CLIENT OK {CHECKS} checks (request {request_id})")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"OPEN311 CLIENT FAILED after {CHECKS} checks: {e}", file=sys.stderr)
        sys.exit(1)
