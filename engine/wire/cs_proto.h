/*
 * The public protocol between clients (cardseal CLI, cardseal-gtk, mail
 * clients) and cardseald, framed as in cs_frame.h. docs/protocol.md is the
 * specification; this header is its summary for the code.
 *
 * Bodies (u8/u32/u64 big-endian; str/bytes = u32 length + bytes):
 *
 *   HELLO      c->s  u32 version, hints        -> OK: u32 version, str engine_version
 *       hints = str display, str wayland_display, str xauthority, str dbus_address,
 *               str term, str ttyname, str lc_ctype
 *       The first request on a connection; anything else before it is CS_ERR_PROTOCOL.
 *   STATUS     c->s  (empty)                   -> OK: str json
 *   PROTECT    c->s  u32 flags (CS_PROTECT_*; no SIGN/ENCRYPT: the account's defaults),
 *                    str account (From: when empty)
 *                    then the message as DATA frames (see below)
 *                    -> DATA frames of output stream 0 (and 1, 2 ... for Bcc copies),
 *                       EVENTs, then OK: str json {"dropped":[...],"outputs":[{"recipients":[...]}]}
 *                    or ERROR (CS_ERR_NO_RECIPIENT_CERT: json names the recipients)
 *   READ       c->s  u32 flags, then DATA      -> DATA (the innermost message), OK: str json report
 *   CERTS_IMPORT c->s bytes file (PEM, DER or PKCS#7; <= 1 MiB) -> OK: str json
 *   SUBSCRIBE  c->s  (empty)                   -> EVENT TOKEN_CHANGED ... until CANCEL, then OK
 *   CANCEL     c->s  u32 request_id            -> OK; the request ends with ERROR CANCELLED
 *
 *   The certificate store, settings and policy (small requests: one frame each way):
 *   CERTS_LIST    c->s str address ("" = every certificate) -> OK: str json {"certs":[...]}
 *                     (with an address also "choice": the recipient choice explained)
 *   CERTS_EXPORT  c->s str fingerprint (SHA-256, hex)       -> OK: str json {"pem":"..."}
 *   CERTS_REMOVE  c->s str fingerprint                      -> OK: str json {"removed":..}
 *                     (ERROR PERMISSION for one of the user's own identities)
 *   CERTS_INSTALL c->s u32 flags (none yet), then a signed message as DATA (no DATA back)
 *                     -> OK: str json {"installed":[{"address":..,"fingerprint":..,
 *                        "subject":..}],"verdict":..}
 *                     Installs the sender's encryption certificate from the message,
 *                     whatever the harvest setting says, when a signature is valid;
 *                     else ERROR (details: error, verdict, reasons).
 *   CERTS_CHOOSE  c->s str account, u32 n, n x str recipient address
 *                     -> OK: str json: the signer and each recipient's certificate as
 *                        PROTECT would choose them now, and why (or why none)
 *   SETTINGS_GET  c->s str account ("" = every account)    -> OK: str json
 *   SETTINGS_SET  c->s str account, str key, str value     -> OK: str json (the account's settings)
 *   POLICY_GET    c->s (empty)                              -> OK: str json (the admin policy)
 *   PFX_IMPORT    c->s str token_uri ("" = the only writable token), str label,
 *                      bytes pkcs12 (<= 1 MiB), str file_name (shown in the password
 *                      dialog); keyd asks the password and PIN
 *                     -> OK: str json {"key_uri":..,"cert_uri":..,"token":..,"subject":..,
 *                        "chain":n}; ERROR: details {"message":..} say what went wrong
 *
 *   CMS (DER) for scripts; content and results stream as DATA like PROTECT:
 *   SIGN_DATA    c->s u32 flags, str account, then DATA -> DATA (SignedData DER), OK json
 *   VERIFY_DATA  c->s u32 flags, then DATA (SignedData DER with its content)
 *                     -> DATA (the content), OK json report
 *   ENCRYPT_DATA c->s u32 flags, str account, u32 n, n x str recipient address, then DATA
 *                     -> DATA (AuthEnvelopedData or EnvelopedData DER), OK json
 *   DECRYPT_DATA c->s u32 flags, then DATA (DER) -> DATA (plaintext), OK json;
 *                     every failure is the same CS_ERR_DECRYPT
 *
 *   DATA       both  u32 stream, bytes chunk (<= CS_PROTO_MAX_CHUNK); an empty chunk ends
 *                    the stream. Its frame id is the request's id.
 *   WINDOW     both  u64 bytes: the sender of WINDOW accepts that many more DATA bytes
 *                    for the request (flow control; the server grants the client's
 *                    upload, the client grants the server's output).
 *   EVENT      s->c  u8 kind (CS_EVENT_*), u64 value, str detail
 *   OK         s->c  the reply; its body depends on the request
 *   ERROR      s->c  u32 code (-CS_ERR_*), str message, str json details ("" if none)
 */
#ifndef CS_PROTO_H
#define CS_PROTO_H

#define CS_PROTO_VERSION 1

enum cs_msg {
	CS_MSG_OK = 0x01,
	CS_MSG_ERROR = 0x02,
	CS_MSG_EVENT = 0x03,
	CS_MSG_DATA = 0x04,
	CS_MSG_WINDOW = 0x05,
	CS_MSG_HELLO = 0x10,
	CS_MSG_STATUS = 0x11,
	CS_MSG_PROTECT = 0x12,
	CS_MSG_READ = 0x13,
	CS_MSG_CERTS_IMPORT = 0x14,
	CS_MSG_SUBSCRIBE = 0x15,
	CS_MSG_CANCEL = 0x16,
	CS_MSG_SIGN_DATA = 0x17,
	CS_MSG_VERIFY_DATA = 0x18,
	CS_MSG_ENCRYPT_DATA = 0x19,
	CS_MSG_DECRYPT_DATA = 0x1a,
	CS_MSG_CERTS_LIST = 0x1b,
	CS_MSG_CERTS_EXPORT = 0x1c,
	CS_MSG_CERTS_REMOVE = 0x1d,
	CS_MSG_CERTS_INSTALL = 0x1e,
	CS_MSG_CERTS_CHOOSE = 0x1f,
	CS_MSG_SETTINGS_GET = 0x20,
	CS_MSG_SETTINGS_SET = 0x21,
	CS_MSG_POLICY_GET = 0x22,
	CS_MSG_PFX_IMPORT = 0x23,
};

/* SIGN_DATA flags. */
enum cs_data_flags {
	CS_DATA_DETACHED = 1u << 0,     /* SIGN_DATA: the content stays outside the SignedData */
	CS_DATA_CBC = 1u << 1,          /* ENCRYPT_DATA: EnvelopedData AES-256-CBC, not GCM */
};

enum cs_protect_flags {
	CS_PROTECT_SIGN = 1u << 0,
	CS_PROTECT_ENCRYPT = 1u << 1,
	CS_PROTECT_OPAQUE = 1u << 2,
	CS_PROTECT_DROP_MISSING = 1u << 3,  /* drop recipients without a certificate */
	CS_PROTECT_CBC = 1u << 4,           /* EnvelopedData AES-256-CBC instead of GCM */
	/*
	 * With neither SIGN nor ENCRYPT the account's defaults apply (always sign,
	 * always encrypt, and what the admin policy requires); these turn one of
	 * them off. With SIGN or ENCRYPT the request says both itself.
	 */
	CS_PROTECT_NO_SIGN = 1u << 5,
	CS_PROTECT_NO_ENCRYPT = 1u << 6,
};

enum cs_event {
	CS_EVENT_PROGRESS = 1,          /* value: bytes processed */
	CS_EVENT_INSERT_TOKEN = 2,      /* detail: token label */
	CS_EVENT_WAITING_FOR_PIN = 3,   /* detail: token label */
	CS_EVENT_PIN_STATE = 4,         /* detail: "count-low", "final-try", "keypad" */
	CS_EVENT_TOKEN_CHANGED = 5,     /* detail: "present LABEL" / "absent LABEL" */
	CS_EVENT_WAITING_FOR_PASSWORD = 6, /* PFX_IMPORT: detail: the file's name */
	CS_EVENT_NOTICE = 7,            /* detail: a sentence for the user (why a request fails) */
	CS_EVENT_READER_CHANGED = 8,    /* detail: "reader-added NAME" / "reader-removed NAME" /
	                                   "card-inserted NAME" / "card-removed NAME" */
};

/* Limits, per client. */
#define CS_PROTO_MAX_FRAME (1024u * 1024)           /* largest frame a peer may send */
#define CS_PROTO_MAX_CHUNK (256u * 1024)            /* largest DATA chunk */
#define CS_PROTO_WINDOW (4u * 1024 * 1024)          /* upload window granted at a time */
#define CS_PROTO_MAX_IN_FLIGHT 8                    /* requests per client */
#define CS_PROTO_MAX_STR 4096

#endif
