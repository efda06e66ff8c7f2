# The virtual smartcard stack for the tests (sourced): a private mount and
# network namespace with its own pcscd, vsmartcard's vpcd reader driver in
# it, and vcard-bridge presenting a libcacard CAC card whose keys are on a
# SoftHSM token, so OpenSC (opensc-pkcs11.so) sees a real CAC card in a real
# PC/SC reader. Nothing here touches the system's pcscd: pcscd's socket
# directory /run/pcscd is a tmpfs of the namespace, and vpcd's TCP port is on
# the namespace's own loopback, so suites can run side by side.
#
#   vcard_enter_namespace ARGS...   re-runs the calling script inside
#                                   `unshare --mount --net` (with
#                                   --map-root-user when not root); prints a
#                                   TAP SKIP with the reason and exits where
#                                   that is impossible
#   vcard_make_card DIR             the SoftHSM token alice-vcard (alice's RSA
#                                   signing and encryption keys and certificates)
#                                   and an NSS database naming it
#   vcard_start_pcscd DIR           pcscd --foreground with only the vpcd reader
#   vcard_start_bridge DIR BRIDGE   the card, inserted; vcard_ctl sends commands,
#                                   vcard_remove and vcard_insert wait for pcscd
#   vcard_wait_card present|absent  polls PC/SC until the reader says so
#   vcard_wait_log FILE TEXT [SECS] polls until FILE has a line containing TEXT
#
# Needs: $CS_PKI, $CS_USER_PIN, $CS_SO_PIN (from the fixtures' env file).
# Known limits of the emulation: libcacard's CAC card does RSA only (no EC
# keys), keeps no PIN retry counter (a wrong PIN never counts down or locks,
# and is reported as 6985 rather than 63Cx), and its PIN is the SoftHSM
# token's.

vcard_softhsm=/usr/lib/softhsm/libsofthsm2.so
vcard_opensc=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
vcard_vpcd_driver=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
vcard_reader_name="Cardseal vpcd"

vcard_skip() {
	echo "1..0 # SKIP $*"
	exit 0
}

vcard_enter_namespace() {
	local p
	[ -n "${CS_VCARD_NS:-}" ] && return 0
	for p in pcscd certutil modutil softhsm2-util pkcs11-tool unshare ip; do
		command -v "$p" >/dev/null || vcard_skip "$p not installed (.ci/deps test installs it)"
	done
	[ -r "$vcard_vpcd_driver" ] || vcard_skip "vsmartcard-vpcd not installed"
	[ -r "$vcard_opensc" ] || vcard_skip "opensc-pkcs11.so not installed"
	# As root the namespaces need nothing more; otherwise a user namespace makes us root in them.
	local ns=(--mount --net)
	[ "$(id -u)" -eq 0 ] || ns=(--map-root-user --mount --net)
	# Probe first, so a refusal is reported as what it is rather than as failed tests.
	if ! p=$(unshare "${ns[@]}" true 2>&1); then
		vcard_skip "unshare ${ns[*]} is not allowed here: $p"
	fi
	CS_VCARD_NS=1 exec unshare "${ns[@]}" --propagation private -- "$BASH" "$0" "$@"
}

# Inside the namespace: loopback up, a private /run/pcscd.
vcard_namespace_setup() {
	ip link set lo up || return 1
	if [ -d /run/pcscd ]; then
		mount -t tmpfs -o mode=0755 cs-pcscd /run/pcscd || return 1
	else
		# No directory to mount over: a private /run (nothing of the tests lives in it).
		mount -t tmpfs -o mode=0755 cs-run /run && mkdir /run/pcscd || return 1
	fi
}

vcard_wait_log() {
	local file=$1 text=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		grep -qF -- "$text" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# The card's token: alice's RSA keys without CKA_ALWAYS_AUTHENTICATE (NSS,
# which libcacard uses, cannot log in per operation), and an NSS database
# that loads SoftHSM and holds the certificates by nickname. Writes
# DIR/softhsm2.conf, DIR/tokens and DIR/nssdb.
vcard_make_card() {
	local dir=$1 name id w=$1/work
	mkdir -p "$dir/tokens" "$dir/nssdb" "$w"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$dir/tokens" > "$dir/softhsm2.conf"
	SOFTHSM2_CONF=$dir/softhsm2.conf softhsm2-util --init-token --free --label alice-vcard \
		--pin "$CS_USER_PIN" --so-pin "$CS_SO_PIN" >/dev/null || return 1
	for name in alice-sign-rsa:01 alice-enc-rsa:02; do
		id=${name#*:} name=${name%:*}
		openssl pkcs8 -topk8 -nocrypt -in "$CS_PKI/$name.key.pem" -outform DER -out "$w/$name.key" &&
		openssl x509 -in "$CS_PKI/$name.cert.pem" -outform DER -out "$w/$name.crt" || return 1
		SOFTHSM2_CONF=$dir/softhsm2.conf pkcs11-tool --module "$vcard_softhsm" \
			--token-label alice-vcard --login --pin "$CS_USER_PIN" --write-object "$w/$name.key" \
			--type privkey --id "$id" --label "$name" --private --sensitive >/dev/null 2>&1 &&
		SOFTHSM2_CONF=$dir/softhsm2.conf pkcs11-tool --module "$vcard_softhsm" \
			--token-label alice-vcard --login --pin "$CS_USER_PIN" --write-object "$w/$name.crt" \
			--type cert --id "$id" --label "$name" >/dev/null 2>&1 || return 1
		rm -f "$w/$name.key"
	done
	certutil -N -d "sql:$dir/nssdb" --empty-password || return 1
	# The certificates go into NSS's own database too: NSS reads a token's
	# certificates only after a login, and libcacard logs in only when the
	# card's PIN is verified. The keys stay on the token.
	for name in alice-sign-rsa alice-enc-rsa; do
		certutil -A -d "sql:$dir/nssdb" -n "$name" -t ,, -i "$CS_PKI/$name.cert.pem" || return 1
	done
	SOFTHSM2_CONF=$dir/softhsm2.conf modutil -dbdir "sql:$dir/nssdb" -add softhsm \
		-libfile "$vcard_softhsm" -force >/dev/null || return 1
}

vcard_start_pcscd() {
	local dir=$1
	cat > "$dir/reader.conf" <<EOF
FRIENDLYNAME "$vcard_reader_name"
DEVICENAME   /dev/null:0x8C7B
LIBPATH      $vcard_vpcd_driver
CHANNELID    0x8C7B
EOF
	pcscd --foreground --info --config "$dir/reader.conf" > "$dir/pcscd.log" 2>&1 &
	vcard_pcscd_pid=$!
	local i
	for ((i = 0; i < 200; i++)); do
		[ -S /run/pcscd/pcscd.comm ] && return 0
		kill -0 "$vcard_pcscd_pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

vcard_start_bridge() {
	local dir=$1 bridge=$2
	mkfifo "$dir/bridge.ctl" || return 1
	SOFTHSM2_CONF=$dir/softhsm2.conf "$bridge" --db "$dir/nssdb" --slot alice-vcard \
		--cert alice-sign-rsa --cert alice-enc-rsa \
		--control "$dir/bridge.ctl" > "$dir/bridge.log" 2>&1 &
	vcard_bridge_pid=$!
	vcard_dir=$dir
	vcard_wait_log "$dir/bridge.log" inserted 10 && vcard_wait_card present 10
}

# vcard_wait_card present|absent [SECS]: polls PC/SC (opensc-tool) until the
# reader reports the card in or out; pcscd checks a vpcd reader every 400 ms.
vcard_wait_card() {
	local want=Yes i
	[ "$1" = present ] || want=No
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		opensc-tool --list-readers 2>/dev/null | grep -q "^[0-9]* *$want .*$vcard_reader_name 00 00" &&
			return 0
		sleep 0.1
	done
	return 1
}

# vcard_ctl COMMAND: remove, insert, remove-at INS, quit.
vcard_ctl() {
	echo "$*" > "$vcard_dir/bridge.ctl"
}

# vcard_remove / vcard_insert: take the card out or put it in, and wait until
# pcscd has seen it. A card put back before pcscd noticed it leave would, to
# PC/SC, never have left, though it lost its power and login: people cannot
# swap a card that fast, so the tests do not either.
vcard_remove() {
	vcard_ctl remove && vcard_wait_card absent 10
}

vcard_insert() {
	vcard_ctl insert && vcard_wait_card present 10
}

vcard_stop() {
	[ -n "${vcard_bridge_pid:-}" ] && kill "$vcard_bridge_pid" 2>/dev/null
	[ -n "${vcard_pcscd_pid:-}" ] && kill "$vcard_pcscd_pid" 2>/dev/null
	wait 2>/dev/null
}
