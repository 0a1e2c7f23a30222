#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from examples/ and a few hand-made
inputs (the framing is described in fuzz/src/lib.rs). Run from anywhere; the output is
committed, so this is needed only when examples/ change."""
import hashlib
import os
import sys
from urllib.parse import quote

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ex = os.path.join(root, "examples")
out = os.path.join(root, "fuzz", "corpus")
SEP = b"\n%%\n"
URL = "https://deskline.example.com/hooks/source"


def read(*path):
    with open(os.path.join(ex, *path), "rb") as f:
        return f.read()


def files(folder, suffix):
    d = os.path.join(ex, folder)
    return sorted(n for n in os.listdir(d) if n.endswith(suffix))


def meta(**kv):
    return "\n".join(f"{k.replace('_', '-') if k not in ('time_zone',) else k}: {v}" for k, v in kv.items()).encode()


def seed(target, *parts):
    data = SEP.join(p if isinstance(p, bytes) else p.encode() for p in parts)
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

for n in files("myoperator", ".json"):
    body = read("myoperator", n)
    seed("myoperator", meta(content_type=JSON), body)
    seed("myoperator", meta(content_type=FORM), b"myoperator=" + quote(body).encode())
    seed("myoperator_call_log", meta(content_type=JSON), body)
    seed("myoperator_call_log", meta(content_type=JSON), b'{"myoperator":' + body + b"}")
    seed("myoperator_call_log", meta(content_type=FORM), b"myoperator=" + quote(body).encode())
seed("myoperator", meta(content_type=FORM), "uid=abc-1&call_state=0&clid=%2B919876543210&users[]=a%40b.c")

for n in files("twilio", ".txt"):
    body = read("twilio", n).strip()
    seed("twilio", meta(content_type=FORM, region="US", url=URL, secret="auth-token", secret2="other"), body)
seed("twilio", meta(content_type=JSON, url=URL + "?bodySHA256=00", x_twilio_signature="AAAAAAAAAAAAAAAAAAAAAAAAAAA="), b'{"CallSid":"CA1"}')

for n in files("aircall", ".json"):
    body = read("aircall", n)
    seed("aircall", meta(content_type=JSON, region="US", secret="aircall-token"), body)
    seed("redact", b"token", body)

for n in files("exotel", ".txt"):
    body = read("exotel", n).strip()
    seed("exotel", meta(content_type=FORM, time_zone="Asia/Kolkata"), body)
    seed("exotel", meta(url=URL + "?secret=s3cret&" + body.decode()), b"")
for n in files("exotel", ".json"):
    seed("exotel", meta(content_type=JSON, time_zone="Asia/Kolkata", secret="s3cret"), read("exotel", n))

mapping = read("generic", "ringly.toml").decode()
table = mapping.split("[sources.ringly.mapping]", 1)[1].encode()
ringly = read("generic", "ringly-call-ended.json")
seed("generic", meta(content_type=JSON, region="GB"), table, ringly)
seed("generic", meta(content_type=FORM), b'call_id = "id"\nfrom = "from"\nstarted_at = { path = "t", format = "%d/%m/%Y %H:%M:%S", time_zone = "Asia/Kolkata" }\nduration_seconds = "d"', b"id=1&from=%2B919876543210&t=26%2F11%2F2024+10%3A00%3A00&d=1%3A05")
for line in table.decode().splitlines():
    if "=" in line and not line.startswith("#") and '"' in line:
        value = line.split("=", 1)[1].strip()
        if value.startswith('"'):
            seed("generic_selector", value.strip('"'), ringly)
for s in ["$.call.legs[0].agent", "legs[-1]", 'data["a b"].c', "items[?kind!=x].id", "$"]:
    seed("generic_selector", s, b'{"call":{"legs":[{"agent":"a"}]},"legs":[1,2],"items":[{"kind":"y","id":3}]}')

for n in files("handoff", ".json"):
    seed("handoff", meta(content_type=JSON, region="IN"), read("handoff", n))

for region, raw in [("IN", "+91 97116 36496"), ("IN", "09711636496"), ("US", "(415) 555-0100"), ("GB", "+00447700900123"),
                    ("IN", "anonymous"), ("DE", "030 1234567"), ("IN", "0000"), ("AU", "+61 2 9999 9999"), ("US", "tel:+1-415-555-0100")]:
    seed("phone", region, raw)

for names, body in [("token\nsecret", b'{"token":"x","a":[1,{"token":2}],"secret":null,"token":"y"}'), ("", b'{"a":1}'), ("a", b'[1]')]:
    seed("redact", names, body)

for ct, body in [(JSON, b'{"a":1}'), (FORM, b"a=1"), ("text/plain", b"{}"), ("application/vnd.api+json; charset=utf-8", b' {"x":[]} '), ("", b"  ")]:
    seed("body_kind", meta(content_type=ct) if ct else b"", body)

ts = "2024-11-26T10:14:05Z"
for body in [b'{"type":"zen:event-type:ticket.created","id":"evt-1","detail":{"id":"5"}}', b""]:
    seed("zendesk_signature", meta(secret="zendesk-secret", secret2="other", x_zendesk_webhook_signature_timestamp=ts, x_zendesk_webhook_signature="dGVzdA=="), body)

for body in [b'{"sessionId":"call-anita-1","callerNumber":"98765 43210","calledNumber":"+918047112233","agentId":"bot-1","contact":{"name":"Anita","email":"Anita@Example.com","externalId":"u-1"}}',
             b'{"session_id":"s-2","caller_number":"+14155550123","called_number":"sip:bot@example.com"}',
             b'{"sessionId":42,"callerNumber":"withheld"}']:
    seed("phone_session", meta(region="IN"), body)

trigger = b'{"deskline_event":"public_reply","ticket_id":"42","external_id":"","status":"open","current_user_id":"7","latest_public_comment":"a "quoted" reply","updated_at":"x"}'
for body in [trigger, trigger.replace(b'"quoted" ', b""), b'{"type":"zen:event-type:ticket.created","id":"evt-1","detail":{"id":"5"}}',
             b'{"type":"zen:event-type:ticket.comment_added","id":"e2","subject":"zen:ticket:77"}']:
    seed("zendesk_trigger", body)

total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out) for f in fs)
print(f"seeds: {sum(len(fs) for _, _, fs in os.walk(out))} files, {total} bytes", file=sys.stderr)
