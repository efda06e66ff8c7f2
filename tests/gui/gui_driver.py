#!/usr/bin/python3
"""Drives cardseal-gtk through AT-SPI by accessible names and prints TAP.

Run by test-gui.sh inside xvfb-run and dbus-run-session, with the persons'
directories and engines set up in CS_GUI_WORK. Every wait polls the
accessibility tree (or a file) with a deadline; nothing sleeps for a fixed time.
"""
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


def wait(what, fn, timeout=TIMEOUT):
    """Polls fn until it returns something true; fails with what after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = fn()
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
        desktop = pyatspi.Registry.getDesktop(0)
        for app in desktop:
            if app is not None and app.get_process_id() == self.proc.pid:
                return app
        return None

    def all(self, pred, showing=True):
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
        walk(self.app, 0)
        return out

    def find(self, what, pred, timeout=TIMEOUT, showing=True):
        return wait(what, lambda: (self.all(pred, showing) or [None])[0], timeout)

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


class Skip(Exception):
    """A test that cannot run here (said in the TAP line)."""


def test(name):
    def wrap(fn):
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
        assert before.returncode == 4, f"bob could already encrypt to alice (exit {before.returncode})"
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
    assert after.returncode == 0, f"bob still cannot encrypt to alice (exit {after.returncode})"


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


print(f"1..{len(results)}")
sys.exit(0 if all(ok for ok, _, _ in results) else 1)
