#!/usr/bin/python3
"""Helpers for test-corpora.sh.

  summary RC REPORT.json       one line for a read: "rc=RC VERDICT uN LAYER..." (N:
                               unprotected parts) where a LAYER is E:CIPHER
                               (encrypted) or
                               S:VERDICT:EMAIL:DIGEST:w0|w1:REASON,REASON
                               (signed), outermost first; "rc=RC none" when
                               the read wrote no report
  wrap KIND FROM TO SUBJECT CMS OUT
                               a bare CMS (DER or PEM) as the mail a client
                               would send: application/pkcs7-mime;
                               smime-type=KIND, base64 body, CRLF
  body IN                      the body of a message (after the first empty
                               line), byte for byte, to stdout
"""
import base64
import json
import re
import sys


def summary(rc, path):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        return "rc=%s none" % rc
    out = ["rc=%s" % rc, d.get("verdict", "?"), "u%s" % d.get("unprotected_parts", "?")]
    for layer in d.get("layers", []):
        if layer.get("type") == "encrypted":
            out.append("E:%s" % layer.get("cipher", "?"))
        else:
            out.append("S:%s:%s:%s:w%d:%s" % (
                layer.get("verdict", "?"), layer.get("signer", {}).get("email", "").lower(),
                layer.get("digest", "?"), 1 if layer.get("weak_algorithm") else 0,
                ",".join(layer.get("reasons", []))))
    return " ".join(out)


def wrap(kind, sender, to, subject, cms, out):
    with open(cms, "rb") as f:
        data = f.read()
    if data.lstrip().startswith(b"-----BEGIN"):
        data = base64.b64decode(b"".join(l for l in data.splitlines()
                                         if l and not l.startswith(b"-----")))
    s = base64.b64encode(data).decode()
    head = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: application/pkcs7-mime; smime-type=%s; name=smime.p7m\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=smime.p7m\r\n\r\n"
            % (sender, to, subject, kind))
    with open(out, "wb") as f:
        f.write(head.encode() + "".join(s[i:i + 76] + "\r\n" for i in range(0, len(s), 76)).encode())


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "summary" and len(argv) == 4:
        print(summary(argv[2], argv[3]))
    elif cmd == "wrap" and len(argv) == 8:
        wrap(*argv[2:])
    elif cmd == "body" and len(argv) == 3:
        with open(argv[2], "rb") as f:
            data = f.read()
        m = re.search(rb"\r?\n\r?\n", data)
        sys.stdout.buffer.write(data[m.end():] if m else b"")
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
