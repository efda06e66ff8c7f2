#!/usr/bin/python3
"""Drives cardseal-gtk through AT-SPI by accessible names and prints TAP.

Run by test-gui.sh inside xvfb-run and dbus-run-session, with the persons'
directories and engines set up in CS_GUI_WORK. Every wait polls the
accessibility tree (or a file) with a deadline; nothing sleeps for a fixed time.
"""
import email
import email.policy
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback

import pyatspi

WORK = os.environ["CS_GUI_WORK"]
SHELL = os.environ["CS_GUI_SHELL"]
CARDSEAL = os.environ["CS_GUI_CARDSEAL"]
FAULTCTL = os.environ["CS_GUI_FAULTCTL"]
SHOTS = os.environ["CS_GUI_SCREENSHOTS"]
POLICY_ENGINE = os.environ.get("CS_GUI_POLICY_ENGINE", "0")
HARVEST_OFF = os.environ.get("CS_GUI_HARVEST_OFF") == "1"
ANCHORS = os.environ["CS_ANCHORS"]
TIMEOUT = 30.0
POLL = 0.1

results = []
running = []


def person_env(who):
    env = dict(os.environ)
    env.update({
        "SOFTHSM2_CONF": f"{WORK}/{who}/softhsm2.conf",
        "XDG_CONFIG_HOME": f"{WORK}/{who}/config",
        "XDG_RUNTIME_DIR": f"{WORK}/{who}/runtime",
        "XDG_DATA_HOME": f"{WORK}/{who}/data",
        "FAULTP11_CONTROL": f"{WORK}/{who}/control",
        "GSETTINGS_BACKEND": "memory",
        "CARDSEAL_GTK_SNAPSHOT": f"{WORK}/snapshot.png",
    })
    env.pop("NO_AT_BRIDGE", None)
    return env


def tail(path, n=3):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-n:])
    except OSError:
        return ""


def wait(what, fn, timeout=TIMEOUT):
    """Polls fn until it returns something true; fails with what after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = fn()
        except AssertionError:  # fn knows it will never come
            raise
        except Exception:  # the tree changes under us: ask again
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL)


class Shell:
    """One cardseal-gtk process and its accessible application."""

    def __init__(self, who, *args):
        self.who = who
        log = open(f"{WORK}/{who}/gtk.log", "ab")
        self.proc = subprocess.Popen([SHELL, *args], env=person_env(who),
                                     stdout=log, stderr=log)
        running.append(self)
        self.app = wait(f"{who}'s cardseal-gtk on the accessibility bus", self._find_app)

    def _find_app(self):
        if self.proc.poll() is not None:
            # Gone (it says why in gtk.log): no use waiting for it.
            raise AssertionError(f"{self.who}'s cardseal-gtk ended (exit {self.proc.returncode}): "
                                 f"{tail(f'{WORK}/{self.who}/gtk.log')}")
        desktop = pyatspi.Registry.getDesktop(0)
        for app in desktop:
            if app is not None and app.get_process_id() == self.proc.pid:
                return app
        return None

    def all(self, pred, showing=True, root=None):
        out = []

        def walk(node, depth):
            if node is None or depth > 40:
                return
            try:
                if pred(node) and (not showing or
                                   node.getState().contains(pyatspi.STATE_SHOWING)):
                    out.append(node)
                for child in node:
                    walk(child, depth + 1)
            except Exception:
                pass
        walk(root if root is not None else self.app, 0)
        return out

    def find(self, what, pred, timeout=TIMEOUT, showing=True, root=None):
        return wait(what, lambda: (self.all(pred, showing, root) or [None])[0], timeout)

    def window(self, title):
        """A top-level window (frame) by its title."""
        return self.find(f"the window '{title}'",
                         lambda n: n.getRole() == pyatspi.ROLE_FRAME and n.name == title)

    def named(self, name, role=None, **kw):
        def pred(n):
            return n.name == name and (role is None or n.getRole() == role)
        return self.find(f"'{name}'", pred, **kw)

    def label_starting(self, prefix, **kw):
        return self.find(f"a label starting '{prefix}'",
                         lambda n: n.getRole() == pyatspi.ROLE_LABEL and n.name.startswith(prefix),
                         **kw)

    def label_containing(self, text, **kw):
        return self.find(f"a label containing '{text}'",
                         lambda n: n.getRole() == pyatspi.ROLE_LABEL and text in n.name, **kw)

    def snapshot(self, name):
        """Has the shell write its windows to a PNG (SIGUSR1), then keeps it as name.png."""
        path = f"{WORK}/snapshot.png"
        if os.path.exists(path):
            os.unlink(path)
        self.proc.send_signal(signal.SIGUSR1)
        wait(f"the snapshot {name}", lambda: os.path.exists(path))
        os.makedirs(SHOTS, exist_ok=True)
        shutil.move(path, os.path.join(SHOTS, name + ".png"))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in running:
            running.remove(self)


def click(node):
    node.queryAction().doAction(0)


def do_action(node, name):
    """Runs the node's action called name (a tree cell's "activate" is Enter on its row)."""
    action = node.queryAction()
    for i in range(action.nActions):
        if action.getName(i) == name:
            action.doAction(i)
            return
    raise AssertionError(f"'{node.name}' has no action '{name}'")


def state(node, s):
    return node.getState().contains(s)


def set_text(node, text):
    node.queryEditableText().setTextContents(text)


def text_of(node):
    t = node.queryText()
    return t.getText(0, t.characterCount)


def as_person(who, *args, stdin=None):
    """The CLI in who's session; returns the completed process."""
    return subprocess.run([CARDSEAL, "-q", *args], env=person_env(who), input=stdin,
                          capture_output=True)


def said(proc):
    """What a failed CLI call said, for an assertion's message."""
    err = proc.stderr.decode(errors="replace").strip()
    return f"exit {proc.returncode}: {err}" if err else f"exit {proc.returncode}"


class Skip(Exception):
    """A test that cannot run here (said in the TAP line)."""


ONLY = os.environ.get("CS_GUI_ONLY", "")  # while working on one test: a part of its name


def test(name):
    def wrap(fn):
        if ONLY and ONLY not in name:
            return fn
        try:
            fn()
            results.append((True, name, ""))
        except Skip as e:
            results.append((True, f"{name} # SKIP {e}", ""))
        except Exception as e:
            results.append((False, name, "".join(traceback.format_exception_only(type(e), e))))
            traceback.print_exc()
        finally:
            for shell in list(running):
                shell.close()
        report = results[-1]
        print(("ok" if report[0] else "not ok") + f" {len(results)} - {name}")
        for line in report[2].splitlines():
            print(f"# {line}")
        sys.stdout.flush()
        return fn
    return wrap


@test("reader: a Maildir folder lists its messages with signed and encrypted marks")
def _folder():
    bob = Shell("bob")
    bob.named("Quarterly figures", pyatspi.ROLE_TABLE_CELL)
    bob.named("Lunch on Friday", pyatspi.ROLE_TABLE_CELL)
    assert bob.all(lambda n: n.getRole() == pyatspi.ROLE_TABLE_CELL and n.name == "encrypted"), \
        "no encrypted mark"
    assert len(bob.all(lambda n: n.getRole() == pyatspi.ROLE_TABLE_CELL and n.name == "signed")) == 1, \
        "the signed-only message should be marked signed (and only it)"


@test("reader: a signed and encrypted message shows a security bar per layer")
def _security_bar():
    bob = Shell("bob", f"{WORK}/signed-encrypted.eml")
    bob.label_starting("Encrypted with AES-256-GCM")
    bar = bob.label_starting("Signed by ")
    assert bar.name == "Signed by Alice Example <alice@example.org>: valid", bar.name
    body = bob.named("Message text", pyatspi.ROLE_TEXT)
    wait("the body text", lambda: "quarterly figures are ready" in text_of(body))
    runtime = f"{WORK}/bob/runtime"
    assert any(d.startswith("cardseal-gtk-") for d in os.listdir(runtime)), \
        "the plaintext is not where the man page says"
    bob.close()
    left = [d for d in os.listdir(runtime) if d.startswith("cardseal-gtk-")]
    assert not left, f"the plaintext outlived the window: {left}"


def alice_sources():
    """Where bob's engine has alice's certificates from (imported, harvested, installed ...)."""
    out = as_person("bob", "certs", "list", "--json", "alice@example.org")
    certs = json.loads(out.stdout or b"{}").get("certs", [])
    return sorted({c.get("source", "") for c in certs})


@test("reader: Details shows the chain and Install installs the sender's certificate")
def _details_install():
    if HARVEST_OFF:
        before = as_person("bob", "protect", "--encrypt", stdin=(
            b"From: bob@example.org\nTo: alice@example.org\nSubject: x\n\nx\n"))
        assert before.returncode == 4, f"bob could already encrypt to alice ({said(before)})"
    assert "installed" not in alice_sources(), "alice's certificate was installed already"
    bob = Shell("bob")
    # Open the message from the list, as a person would.
    do_action(bob.named("Quarterly figures", pyatspi.ROLE_TABLE_CELL), "activate")
    bob.label_starting("Signed by Alice Example")
    click(bob.named("Signature details", pyatspi.ROLE_PUSH_BUTTON))
    chain = bob.named("Certificate chain", pyatspi.ROLE_TABLE)
    wait("the chain's root", lambda: any("Root CA" in (c.name or "") for c in chain))
    bob.find("the signer in the facts",
             lambda n: n.getRole() == pyatspi.ROLE_LABEL and n.name == "Alice Example")
    bob.snapshot("reader-details")
    click(bob.named("Install", pyatspi.ROLE_PUSH_BUTTON))
    done = bob.find("the install result",
                    lambda n: n.getRole() == pyatspi.ROLE_LABEL and
                    (n.name.startswith("Installed the certificate") or
                     n.name.startswith("The certificate was not installed")))
    assert done.name.startswith("Installed the certificate of alice@example.org"), done.name
    assert "installed" in alice_sources(), f"the store says {alice_sources()}"
    after = as_person("bob", "protect", "--encrypt", stdin=(
        b"From: bob@example.org\nTo: alice@example.org\nSubject: x\n\nx\n"))
    assert after.returncode == 0, f"bob still cannot encrypt to alice ({said(after)})"


@test("reader: while the card is out it says insert your smartcard, and finishes once it is back")
def _insert_card():
    subprocess.run([FAULTCTL, f"{WORK}/bob/control", "hide", "bob-card"], check=True)
    try:
        bob = Shell("bob", f"{WORK}/signed-encrypted.eml")
        asking = bob.label_starting("Insert your smartcard")
        assert "bob-card" in asking.name, asking.name
        assert not bob.all(lambda n: n.getRole() == pyatspi.ROLE_LABEL and
                           n.name.startswith("Signed by")), "read before the card came back"
    finally:
        subprocess.run([FAULTCTL, f"{WORK}/bob/control", "show", "bob-card"], check=True)
    bob.label_starting("Signed by Alice Example <alice@example.org>: valid")
    wait("the waiting notice to go", lambda: not bob.all(
        lambda n: n.getRole() == pyatspi.ROLE_LABEL and n.name.startswith("Insert your smartcard")))


def outbox_files():
    d = f"{WORK}/alice/outbox/new"
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


@test("composer: a recipient without a certificate is named, removed, and the rest is sent to the outbox")
def _compose():
    alice = Shell("alice", "--compose")
    set_text(alice.named("To", pyatspi.ROLE_TEXT),
             "Bob Example <bob@example.org>, Carol Example <carol@example.org>")
    set_text(alice.named("Subject", pyatspi.ROLE_TEXT), "Figures for the board")
    set_text(alice.named("Message text", pyatspi.ROLE_TEXT),
             "Bob, Carol,\n\nthe board figures are final.\n\nAlice\n")
    for name in ("Sign", "Encrypt"):
        box = alice.named(name, pyatspi.ROLE_CHECK_BOX)
        if not state(box, pyatspi.STATE_CHECKED):
            click(box)
        wait(f"{name} checked", lambda: state(box, pyatspi.STATE_CHECKED))
    click(alice.named("Send", pyatspi.ROLE_PUSH_BUTTON))
    alice.label_containing("carol@example.org")
    alert = alice.find("the missing-certificate dialog",
                       lambda n: n.getRole() == pyatspi.ROLE_ALERT)
    assert "bob@example.org" not in alice.label_containing("carol@example.org").name, \
        "bob has a certificate and should not be named"
    assert alert is not None
    alice.snapshot("composer-missing-certificate")
    assert outbox_files() == [], "something was sent before the dialog was answered"
    click(alice.named("Remove these recipients", pyatspi.ROLE_PUSH_BUTTON))
    files = wait("the message in the outbox", outbox_files)
    assert len(files) == 1, files
    path = f"{WORK}/alice/outbox/new/{files[0]}"
    with open(path, "rb") as f:
        raw = f.read()
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    assert b"carol" not in head.lower(), "carol is still a recipient"
    assert b"bob@example.org" in head, "bob is no longer a recipient"
    dec = subprocess.run(["openssl", "cms", "-decrypt", "-in", path, "-inkey",
                          f"{WORK}/bob-key.pem", "-out", f"{WORK}/board.dec"], capture_output=True)
    assert dec.returncode == 0, "openssl cms cannot decrypt it with bob's key: " + dec.stderr.decode()
    ver = subprocess.run(["openssl", "cms", "-verify", "-in", f"{WORK}/board.dec", "-CAfile",
                          ANCHORS, "-out", f"{WORK}/board.txt"], capture_output=True)
    assert ver.returncode == 0, "openssl cms does not verify alice's signature: " + ver.stderr.decode()
    with open(f"{WORK}/board.txt", "rb") as f:
        assert b"the board figures are final" in f.read()
    wait("the composer to close after sending", lambda: alice.proc.poll() is not None)


def settings_loaded(shell):
    return shell.label_starting("Settings of alice@example.org")


@test("settings: Always sign and a manual signing certificate persist in the engine")
def _settings():
    alice = Shell("alice", "--settings")
    settings_loaded(alice)
    box = alice.named("Always sign with S/MIME", pyatspi.ROLE_CHECK_BOX)
    assert not state(box, pyatspi.STATE_CHECKED), "always sign was already on"
    assert state(box, pyatspi.STATE_SENSITIVE), "always sign is locked without a policy"
    click(box)
    alice.label_starting("Saved")
    manual = alice.named("Signing certificate: Manually", pyatspi.ROLE_RADIO_BUTTON)
    click(manual)
    wait("the manual choice saved", lambda: state(manual, pyatspi.STATE_CHECKED) and
         alice.label_starting("Saved"))
    alice.named("alice-card", pyatspi.ROLE_TABLE_CELL)
    alice.label_containing("Smartcard alice-card: inserted")
    alice.snapshot("settings")
    alice.close()
    shown = as_person("alice", "settings", "show", "--json", "--account", "alice@example.org")
    kept = json.loads(shown.stdout or b"{}")
    assert kept.get("always-sign") is True, f"the engine kept {kept}"
    assert kept.get("sign-cert", "auto").startswith("pkcs11:"), f"the engine kept {kept}"
    # The shell keeps nothing: what a new one shows is what the engine kept.
    again = Shell("alice", "--settings")
    settings_loaded(again)
    box = again.named("Always sign with S/MIME", pyatspi.ROLE_CHECK_BOX)
    wait("always sign shown on", lambda: state(box, pyatspi.STATE_CHECKED))
    manual = again.named("Signing certificate: Manually", pyatspi.ROLE_RADIO_BUTTON)
    wait("the manual choice shown", lambda: state(manual, pyatspi.STATE_CHECKED))


@test("settings: the token state is live (card out, card back) and shows the PIN state")
def _token_live():
    control = f"{WORK}/alice/control"
    subprocess.run([FAULTCTL, control, "flags", "alice-card", "final-try"], check=True)
    try:
        alice = Shell("alice", "--settings")
        alice.label_containing("Smartcard alice-card: inserted, FINAL PIN TRY")
    finally:
        subprocess.run([FAULTCTL, control, "flags", "alice-card"], check=True)
    subprocess.run([FAULTCTL, control, "hide", "alice-card"], check=True)
    try:
        alice.label_containing("Smartcard alice-card: not inserted")
    finally:
        subprocess.run([FAULTCTL, control, "show", "alice-card"], check=True)
    alice.label_containing("Smartcard alice-card: inserted")


@test("policy: a locked toggle is disabled and says why (settings and composer)")
def _policy():
    if POLICY_ENGINE == "skip":
        raise Skip("the engine trusts only a root-owned policy file: run as root, without "
                   "/etc/cardseal/policy.conf")
    if POLICY_ENGINE != "1":
        raise AssertionError("the engine with the test policy did not start (see dora's log)")
    dora = Shell("dora", "--settings")
    box = dora.named("Always sign with S/MIME", pyatspi.ROLE_CHECK_BOX)
    wait("always sign locked", lambda: not state(box, pyatspi.STATE_SENSITIVE))
    assert state(box, pyatspi.STATE_CHECKED), "a required toggle should show on"
    assert "administrator" in box.description, f"no reason given: '{box.description}'"
    dora.label_containing("require-signed")
    dora.close()
    dora = Shell("dora", "--compose")
    sign = dora.named("Sign", pyatspi.ROLE_CHECK_BOX)
    wait("the composer's Sign locked", lambda: not state(sign, pyatspi.STATE_SENSITIVE))
    assert state(sign, pyatspi.STATE_CHECKED)
    assert "administrator" in sign.description, sign.description
    enc = dora.named("Encrypt", pyatspi.ROLE_CHECK_BOX)
    assert state(enc, pyatspi.STATE_SENSITIVE), "encrypt is not locked by this policy"



def account_file(name, who, address, display, **keys):
    """An accounts file of its own for one test (--accounts), e.g. with its own outbox."""
    path = f"{WORK}/{name}.accounts.conf"
    lines = [f"[{display}]", f"address = {address}", f"name = {display}"]
    lines += [f"{k.replace('_', '-')} = {v}" for k, v in keys.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def send_script(name, hold=False):
    """A send command that keeps each call's argv and standard input in WORK/name/N.*.

    With hold, each call waits until the file WORK/name/release exists (the test
    looks at the composer meanwhile), polling for it.
    """
    d = f"{WORK}/{name}"
    os.makedirs(d, exist_ok=True)
    path = f"{d}.sh"
    with open(path, "w") as f:
        f.write(f"""#!/bin/sh
d={d}
n=$(ls "$d" | grep -c '\\.args$')
cat > "$d/$n.eml.part" || exit 1
mv "$d/$n.eml.part" "$d/$n.eml"
printf '%s\\n' "$@" > "$d/$n.args"
{'while [ ! -e "$d/release" ]; do sleep 0.05; done' if hold else ''}
exit 0
""")
    os.chmod(path, 0o755)
    return d, path


def sent_calls(d):
    """The calls a send_script saw: [(argv list, message path)], in order."""
    out = []
    n = 0
    while os.path.exists(f"{d}/{n}.args"):
        with open(f"{d}/{n}.args") as f:
            out.append((f.read().splitlines(), f"{d}/{n}.eml"))
        n += 1
    return out


def head_of(path):
    """The header block of a message file (bytes)."""
    with open(path, "rb") as f:
        raw = f.read(256 * 1024)
    return raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]


def decrypt(path, key, out):
    """openssl cms -decrypt with key; the completed process."""
    return subprocess.run(["openssl", "cms", "-decrypt", "-in", path, "-inkey", key, "-out", out],
                          capture_output=True)


def verified_text(path, out):
    """The content of alice's signed message in path, as openssl cms verifies it (bytes)."""
    ver = subprocess.run(["openssl", "cms", "-verify", "-in", path, "-CAfile", ANCHORS,
                          "-out", out], capture_output=True)
    assert ver.returncode == 0, "openssl cms does not verify the signature: " + ver.stderr.decode()
    with open(out, "rb") as f:
        return f.read()


def check(shell, name, want=True):
    """Sets a check box as a person would, and waits until it shows so."""
    box = shell.named(name, pyatspi.ROLE_CHECK_BOX)
    if state(box, pyatspi.STATE_CHECKED) != want:
        click(box)
    wait(f"{name} {'on' if want else 'off'}", lambda: state(box, pyatspi.STATE_CHECKED) == want)


def compose_bcc(alice):
    """Fills alice's composer: To bob, Bcc anyeku (has a certificate) and carol (has none)."""
    set_text(alice.named("To", pyatspi.ROLE_TEXT), "Bob Example <bob@example.org>")
    set_text(alice.named("Bcc", pyatspi.ROLE_TEXT), "anyeku@example.org, carol@example.org")
    set_text(alice.named("Subject", pyatspi.ROLE_TEXT), "Salaries")
    set_text(alice.named("Message text", pyatspi.ROLE_TEXT), "The salaries, in confidence.\n")
    check(alice, "Sign")
    check(alice, "Encrypt")


BOB_KEY = f"{WORK}/bob-key.pem"
BCC_KEY = f"{WORK}/anyeku-key.pem"


def field_names(path):
    """The names of a message file's header fields, lower case."""
    head = email.message_from_bytes(head_of(path) + b"\n\n", policy=email.policy.compat32)
    return [k.lower() for k in head.keys()]


def check_bcc_copies(main, copy, tag):
    """The To copy names no Bcc recipient; the Bcc copy is for anyeku alone."""
    # By field name: "bcc" anywhere in the header also matched a random Message-Id
    # (<...BCC...@example.org>, about 1 in 2000 messages), a false failure.
    names = field_names(main)
    assert "bcc" not in names and "resent-bcc" not in names, f"the To copy has a Bcc field: {names}"
    assert b"anyeku" not in head_of(main).lower(), "the To copy names the Bcc recipient"
    dec = decrypt(main, BOB_KEY, f"{WORK}/{tag}-main.dec")
    assert dec.returncode == 0, "bob cannot decrypt the To copy: " + dec.stderr.decode()
    inner = verified_text(f"{WORK}/{tag}-main.dec", f"{WORK}/{tag}-main.txt")
    assert b"salaries, in confidence" in inner, inner[:200]
    with open(f"{WORK}/{tag}-main.dec", "rb") as f:
        assert b"anyeku" not in f.read().lower(), "the To copy's content names the Bcc recipient"
    assert decrypt(main, BCC_KEY, f"{WORK}/{tag}-x.dec").returncode != 0, \
        "the Bcc recipient's key decrypts the To copy"
    assert decrypt(copy, BOB_KEY, f"{WORK}/{tag}-x.dec").returncode != 0, \
        "the To recipient's key decrypts the Bcc copy"
    dec = decrypt(copy, BCC_KEY, f"{WORK}/{tag}-bcc.dec")
    assert dec.returncode == 0, "the Bcc recipient cannot decrypt their copy: " + dec.stderr.decode()
    inner = verified_text(f"{WORK}/{tag}-bcc.dec", f"{WORK}/{tag}-bcc.txt")
    assert b"salaries, in confidence" in inner, inner[:200]


@test("composer: Bcc gets a copy of its own in the outbox; the missing-certificate dialog covers Bcc")
def _bcc_outbox():
    outbox = f"{WORK}/bcc-outbox"
    conf = account_file("bcc-outbox", "alice", "alice@example.org", "Alice Example", outbox=outbox)
    alice = Shell("alice", "--accounts", conf, "--compose")
    compose_bcc(alice)
    click(alice.named("Send", pyatspi.ROLE_PUSH_BUTTON))
    alice.find("the missing-certificate dialog", lambda n: n.getRole() == pyatspi.ROLE_ALERT)
    named = alice.label_containing("carol@example.org").name
    assert "anyeku" not in named and "bob@" not in named, f"the dialog names too many: {named}"
    click(alice.named("Remove these recipients", pyatspi.ROLE_PUSH_BUTTON))
    wait("the composer to close after sending", lambda: alice.proc.poll() is not None)
    files = sorted(os.listdir(f"{outbox}/new"))
    assert len(files) == 2, f"{len(files)} files in the outbox, not 2: {files}"
    paths = [f"{outbox}/new/{f}" for f in files]
    copies = [p for p in paths if b"x-cardseal-envelope-to: anyeku@example.org" in head_of(p).lower()]
    assert len(copies) == 1, "no (or more than one) copy names anyeku as its envelope recipient"
    main = [p for p in paths if p not in copies][0]
    assert b"x-cardseal-envelope-to" not in head_of(main).lower(), "the To copy has an envelope field"
    assert b"carol" not in head_of(main).lower() + head_of(copies[0]).lower(), "carol is still there"
    check_bcc_copies(main, copies[0], "outbox")


@test("composer: the send command runs once per copy, a Bcc copy with only its own recipient")
def _bcc_command():
    d, script = send_script("sent-bcc")
    conf = account_file("bcc-command", "alice", "alice@example.org", "Alice Example",
                        send_command=f"{script} -t -oi")
    alice = Shell("alice", "--accounts", conf, "--compose")
    compose_bcc(alice)
    set_text(alice.named("Bcc", pyatspi.ROLE_TEXT), "anyeku@example.org")
    click(alice.named("Send", pyatspi.ROLE_PUSH_BUTTON))
    wait("the composer to close after sending", lambda: alice.proc.poll() is not None)
    calls = sent_calls(d)
    assert len(calls) == 2, f"the send command ran {len(calls)} times, not 2: {calls}"
    (argv0, main), (argv1, copy) = calls
    assert argv0 == ["-t", "-oi"], f"the To copy was sent with {argv0}"
    # sendmail -t would take bob from the copy's To: the Bcc copy goes to its address alone.
    assert argv1 == ["-oi", "--", "anyeku@example.org"], f"the Bcc copy was sent with {argv1}"
    assert b"bob@example.org" in head_of(copy), "the Bcc copy should keep the To field"
    check_bcc_copies(main, copy, "command")


@test("composer: a signed-only message goes to its Bcc recipient as the same message, by envelope")
def _bcc_signed():
    d, script = send_script("sent-signed")
    conf = account_file("bcc-signed", "alice", "alice@example.org", "Alice Example",
                        send_command=f"{script} -t -oi")
    alice = Shell("alice", "--accounts", conf, "--compose")
    compose_bcc(alice)
    set_text(alice.named("Bcc", pyatspi.ROLE_TEXT), "carol@example.org")
    check(alice, "Encrypt", False)
    click(alice.named("Send", pyatspi.ROLE_PUSH_BUTTON))
    wait("the composer to close after sending", lambda: alice.proc.poll() is not None)
    calls = sent_calls(d)
    assert [argv for argv, _ in calls] == [["-t", "-oi"], ["-oi", "--", "carol@example.org"]], calls
    with open(calls[0][1], "rb") as a, open(calls[1][1], "rb") as b:
        main = a.read()
        assert main == b.read(), "the Bcc recipient got another message"
    assert b"carol" not in main.lower(), "the message names the Bcc recipient"
    assert b"salaries, in confidence" in verified_text(calls[0][1], f"{WORK}/signed-bcc.txt")


def composer_frame(shell):
    return shell.window("New message")


@test("reader: Reply fills in the sender, Re: subject, quoted text and threading; sent to the outbox")
def _reply():
    bob = Shell("bob", f"{WORK}/bob/inbox/cur/2.eml:2,S")
    bob.label_starting("Signed by Alice Example")
    reply = bob.named("Reply", pyatspi.ROLE_PUSH_BUTTON)
    wait("Reply enabled", lambda: state(reply, pyatspi.STATE_SENSITIVE))
    click(reply)
    frame = composer_frame(bob)
    to = bob.find("the reply's To", lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "To",
                  root=frame)
    assert text_of(to) == "Alice at home <alice.home@example.org>", \
        f"To should be the Reply-To: '{text_of(to)}'"
    subject = bob.find("the reply's Subject",
                       lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "Subject", root=frame)
    assert text_of(subject) == "Re: Lunch on Friday", text_of(subject)
    body = bob.find("the reply's text",
                    lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "Message text",
                    root=frame)
    quoted = text_of(body)
    assert "Alice Example <alice@example.org> wrote:" in quoted, quoted
    assert "> Hello Bob,\n>\n> the quarterly figures are ready;" in quoted, quoted
    enc = bob.find("Encrypt", lambda n: n.getRole() == pyatspi.ROLE_CHECK_BOX and
                   n.name == "Encrypt", root=frame)
    assert not state(enc, pyatspi.STATE_CHECKED), "a reply to a signed-only message is encrypted"
    check(bob, "Sign", False)
    before = set(os.listdir(f"{WORK}/bob/outbox/new")) if os.path.isdir(f"{WORK}/bob/outbox/new") else set()
    click(bob.find("Send", lambda n: n.getRole() == pyatspi.ROLE_PUSH_BUTTON and n.name == "Send",
                   root=frame))
    new = wait("the reply in bob's outbox",
               lambda: set(os.listdir(f"{WORK}/bob/outbox/new")) - before)
    path = f"{WORK}/bob/outbox/new/{new.pop()}"
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    assert msg["In-Reply-To"] == "<lunch-1@example.org>", msg["In-Reply-To"]
    assert "<lunch-1@example.org>" in (msg["References"] or ""), msg["References"]
    assert msg["Subject"] == "Re: Lunch on Friday", msg["Subject"]
    assert "bob@example.org" in msg["From"], msg["From"]
    assert "alice.home@example.org" in msg["To"], msg["To"]
    assert "> the quarterly figures are ready;" in msg.get_content(), msg.get_content()[:300]
    bob.close()
    # A reply to that reply (unprotected) keeps one "Re:".
    again = Shell("bob", path)
    again.label_starting("Not signed and not encrypted")
    reply = again.named("Reply", pyatspi.ROLE_PUSH_BUTTON)
    wait("Reply enabled", lambda: state(reply, pyatspi.STATE_SENSITIVE))
    click(reply)
    subject = again.find("the second reply's Subject",
                         lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "Subject",
                         root=composer_frame(again))
    assert text_of(subject) == "Re: Lunch on Friday", f"Re: doubled: '{text_of(subject)}'"


@test("reader: a reply to an encrypted message is encrypted by default, to the sender")
def _reply_encrypted():
    bob = Shell("bob", f"{WORK}/signed-encrypted.eml")
    bob.label_starting("Signed by Alice Example")
    reply = bob.named("Reply", pyatspi.ROLE_PUSH_BUTTON)
    wait("Reply enabled", lambda: state(reply, pyatspi.STATE_SENSITIVE))
    click(reply)
    frame = composer_frame(bob)
    to = bob.find("the reply's To", lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "To",
                  root=frame)
    assert text_of(to) == "Alice Example <alice@example.org>", text_of(to)
    enc = bob.find("Encrypt", lambda n: n.getRole() == pyatspi.ROLE_CHECK_BOX and
                   n.name == "Encrypt", root=frame)
    wait("Encrypt on", lambda: state(enc, pyatspi.STATE_CHECKED))


@test("composer: a 40 MB attachment's progress reaches its end, and the result decrypts")
def _large():
    big = f"{WORK}/big.bin"
    data = os.urandom(40 * 1000 * 1000)
    with open(big, "wb") as f:
        f.write(data)
    digest = hashlib.sha256(data).hexdigest()
    del data
    d, script = send_script("sent-large", hold=True)
    conf = account_file("large", "alice", "alice@example.org", "Alice Example",
                        send_command=f"{script} -t -oi")
    alice = Shell("alice", "--accounts", conf, "--compose", "--to", "bob@example.org",
                  "--subject", "The archive", "--attach", big)
    check(alice, "Sign", False)
    check(alice, "Encrypt")
    bar = alice.named("Sending progress", pyatspi.ROLE_PROGRESS_BAR, showing=False)
    click(alice.named("Send", pyatspi.ROLE_PUSH_BUTTON))
    seen = []

    def at_end():
        v = bar.queryValue()
        seen.append(v.currentValue)
        return v.currentValue >= v.maximumValue > 0
    # The send command holds on until released: the bar is there to be read at its end.
    wait("the progress bar at its end", at_end, timeout=60)
    wait("the send command to run", lambda: sent_calls(d))
    assert at_end(), f"the bar went back from its end: {seen[-5:]}"
    between = sorted({round(v, 2) for v in seen if 0 < v < 1})
    print(f"# progress seen on the way: {between[:3]}...{between[-3:]} ({len(between)} values)")
    open(f"{d}/release", "w").close()
    wait("the composer to close after sending", lambda: alice.proc.poll() is not None)
    calls = sent_calls(d)
    assert len(calls) == 1, calls
    dec = decrypt(calls[0][1], BOB_KEY, f"{WORK}/large.dec")
    assert dec.returncode == 0, "bob cannot decrypt it: " + dec.stderr.decode()
    with open(f"{WORK}/large.dec", "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    parts = [p for p in msg.walk() if p.get_filename() == "big.bin"]
    assert parts, "no big.bin in the decrypted message"
    got = hashlib.sha256(parts[0].get_payload(decode=True)).hexdigest()
    assert got == digest, "the attachment changed on its way"
    os.unlink(big)
    os.unlink(f"{WORK}/large.dec")
    os.unlink(calls[0][1])


print(f"1..{len(results)}")
sys.exit(0 if all(ok for ok, _, _ in results) else 1)
