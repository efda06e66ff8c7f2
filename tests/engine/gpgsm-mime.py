#!/usr/bin/python3
"""MIME glue for test-gpgsm.sh: gpgsm reads and writes bare CMS, not mail.

A mail client that drives gpgsm (mutt, KMail) builds the MIME around it; this
does the same, and takes Cardseal's messages apart again for gpgsm.

  wrap KIND FROM TO SUBJECT CMS OUT      application/pkcs7-mime mail (KIND:
                                         enveloped-data or signed-data), the
                                         DER CMS base64 in 76-column lines
  signed FROM TO SUBJECT ENTITY SIG OUT  multipart/signed mail: ENTITY (a MIME
                                         entity, CRLF) and SIG (detached DER)
  signed-entity ENTITY SIG OUT           the same multipart/signed without the
                                         mail header (to be encrypted)
  unwrap IN OUT                          the base64 body of a one-part
                                         message, decoded (the CMS)
  split IN DATA SIG                      a multipart/signed message or entity:
                                         the signed part byte for byte to
                                         DATA, the decoded signature to SIG
Everything written has CRLF line ends.
"""
import base64
import re
import sys

BOUNDARY = "----=_cardseal_gpgsm_test_7f3a9c"
DATE = "Sat, 28 Nov 2026 12:00:00 +0000"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def b64_lines(der):
    s = base64.b64encode(der).decode()
    return "".join(s[i:i + 76] + "\r\n" for i in range(0, len(s), 76)).encode()


def mail_header(sender, to, subject):
    return crlf("From: %s\nTo: %s\nSubject: %s\nDate: %s\nMIME-Version: 1.0\n"
                % (sender, to, subject, DATE))


def split_header(data):
    """(header bytes, body bytes) at the first empty line (CRLF or LF)."""
    m = re.search(rb"\r?\n\r?\n", data)
    if m is None:
        raise SystemExit("gpgsm-mime: no end of header")
    return data[:m.start()], data[m.end():]


def header_value(header, name):
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", header)
    for line in re.split(rb"\r?\n", unfolded):
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower().encode():
            return v.strip().decode()
    return ""


def signed_body(entity, sig):
    if not entity.endswith(b"\r\n"):
        raise SystemExit("gpgsm-mime: the entity must end with CRLF")
    return (crlf("This is an S/MIME signed message\n\n--%s\n" % BOUNDARY) + entity +
            crlf("\n--%s\nContent-Type: application/pkcs7-signature; name=smime.p7s\n"
                 "Content-Transfer-Encoding: base64\n"
                 "Content-Disposition: attachment; filename=smime.p7s\n\n" % BOUNDARY) +
            b64_lines(sig) + crlf("\n--%s--\n" % BOUNDARY))


def signed_ctype():
    return crlf('Content-Type: multipart/signed; protocol="application/pkcs7-signature";\n'
                ' micalg=sha-256; boundary="%s"\n\n' % BOUNDARY)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "wrap" and len(argv) == 8:
        kind, sender, to, subject, cms, out = argv[2:]
        write(out, mail_header(sender, to, subject) +
              crlf("Content-Type: application/pkcs7-mime; smime-type=%s; name=smime.p7m\n"
                   "Content-Transfer-Encoding: base64\n"
                   "Content-Disposition: attachment; filename=smime.p7m\n\n" % kind) +
              b64_lines(read(cms)))
    elif cmd == "signed" and len(argv) == 8:
        sender, to, subject, entity, sig, out = argv[2:]
        write(out, mail_header(sender, to, subject) + signed_ctype() +
              signed_body(read(entity), read(sig)))
    elif cmd == "signed-entity" and len(argv) == 5:
        entity, sig, out = argv[2:]
        write(out, signed_ctype() + signed_body(read(entity), read(sig)))
    elif cmd == "unwrap" and len(argv) == 4:
        header, body = split_header(read(argv[2]))
        if header_value(header, "Content-Transfer-Encoding").lower() != "base64":
            raise SystemExit("gpgsm-mime: the body is not base64")
        write(argv[3], base64.b64decode(re.sub(rb"\s+", b"", body), validate=True))
    elif cmd == "split" and len(argv) == 5:
        header, body = split_header(read(argv[2]))
        m = re.search(r'boundary="?([^";]+)"?', header_value(header, "Content-Type"))
        if m is None:
            raise SystemExit("gpgsm-mime: no boundary")
        delim = b"\r\n--" + m.group(1).encode()
        # RFC 2046 5.1.1: the CRLF before a delimiter belongs to the delimiter.
        parts = (b"\r\n" + body).split(delim)
        if len(parts) < 4 or not parts[3].startswith(b"--"):
            raise SystemExit("gpgsm-mime: not a two-part multipart/signed")
        data = parts[1].split(b"\r\n", 1)[1]   # drop the rest of the delimiter line
        sig_header, sig_body = split_header(parts[2].split(b"\r\n", 1)[1])
        write(argv[3], data)
        write(argv[4], base64.b64decode(re.sub(rb"\s+", b"", sig_body), validate=True))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
