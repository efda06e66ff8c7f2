#!/bin/bash
# Regenerates docs/screenshots/*.png from the fixture data: runs the GUI suite
# (which takes the screenshots as it goes) with CS_GUI_SCREENSHOTS pointing at
# docs/screenshots. Needs a configured build/ci (meson setup build/ci -Dgtk=enabled).
#
#   settings.png                      Email security, after Always sign and a manual certificate
#   reader-details.png                the reader (a Maildir folder) with Signature details open
#   composer-missing-certificate.png  the composer asking about a recipient without a certificate
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/ci}
[ -f "$build/build.ninja" ] || meson setup "$build" -Dgtk=enabled
ninja -C "$build" >/dev/null
mkdir -p docs/screenshots
CS_GUI_SCREENSHOTS=$PWD/docs/screenshots meson test -C "$build" --suite gui --print-errorlogs
ls -l docs/screenshots/*.png
