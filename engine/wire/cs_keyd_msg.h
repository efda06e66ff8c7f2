/*
 * The internal protocol between cardseald (the front) and cardseal-keyd,
 * framed like the public one (cs_frame.h) on a socketpair. docs/protocol.md
 * describes it beside the public protocol.
 *
 * Every request carries an operation context (who asks, for which display,
 * and a summary for the PIN dialog); keyd answers each request id exactly
 * once with CS_KMSG_OK (a typed body) or CS_KMSG_ERROR, and may send
 * CS_KMSG_EVENT frames with the same id before that.
 *
 * Bodies (u8/u32 big-endian, str/bytes = u32 length + bytes):
 *   context   = u32 client_id, str display, str wayland_display, str xauthority,
 *               str dbus_address, str term, str ttyname, str lc_ctype,
 *               str summary
 *   LIST_IDENTITIES  ->  OK: u32 n, n x identity, u32 m, m x bytes ca_cert_der,
 *                            u32 list_flags (CS_KLIST_*)
 *       identity = str key_uri, str cert_uri, bytes cert_der, str label,
 *                  str token_label, str token_serial, u8 key_type (1 RSA, 2 EC),
 *                  u8 flags (1 always-authenticate, 2 local, 4 sign, 8 decrypt, 16 derive),
 *                  str module (the PKCS#11 module's path as keyd loaded it)
 *   LIST_TOKENS      ->  OK: u32 n, n x token
 *       token = str module, u32 slot, str label, str serial, str manufacturer, str model,
 *               u32 flags (CS_KTOKEN_*)
 *   SIGN     context, str key_uri, u8 scheme (1 v1.5, 2 PSS, 3 ECDSA), u8 md, u8 mgf1_md,
 *            u32 salt_len, bytes digest                 ->  OK: bytes signature
 *   DECRYPT  context, str key_uri, u8 padding (1 v1.5, 2 OAEP), u8 md, u8 mgf1_md,
 *            bytes label, bytes wrapped_key             ->  OK: bytes content_key
 *   DERIVE   context, str key_uri, bytes peer_point     ->  OK: bytes shared_secret
 *   IMPORT_P12  context (summary: the file's name), str token_uri ("" = the only writable
 *            token), bytes pkcs12, str password ("" = keyd asks through pinentry), str label
 *            ->  OK: str key_uri, str cert_uri, str token_label, str subject, u32 chain,
 *                u32 chain_written; ERROR's message says what went wrong for the user
 *   WATCH_TOKENS  (empty, or u8 from_start: 1 = also the events since keyd started)
 *                           ->  EVENT TOKEN_CHANGED frames (detail: "present LABEL" or
 *                               "absent LABEL") and READER_CHANGED frames (PC/SC readers
 *                               and cards: "card-inserted NAME"...) until CANCEL; then OK
 *   WAIT_TOKEN  str key_uri, u32 timeout_seconds  ->  EVENT INSERT_TOKEN (detail: label)
 *                               if absent, then OK when present, ERROR TIMEOUT/CANCELLED
 *   CANCEL   u32 request_id (the frame's own id is new) ->  OK; the cancelled request
 *            ends with ERROR CANCELLED (an open PIN dialog is closed)
 *   ERROR    u32 code (-CS_ERR_*), str message
 *   EVENT    u8 kind (CS_KEVENT_*), str detail
 */
#ifndef CS_KEYD_MSG_H
#define CS_KEYD_MSG_H

enum cs_keyd_msg {
	CS_KMSG_OK = 0x40,
	CS_KMSG_ERROR = 0x41,
	CS_KMSG_EVENT = 0x42,
	CS_KMSG_LIST_IDENTITIES = 0x50,
	CS_KMSG_LIST_TOKENS = 0x51,
	CS_KMSG_SIGN = 0x52,
	CS_KMSG_DECRYPT = 0x53,
	CS_KMSG_DERIVE = 0x54,
	CS_KMSG_IMPORT_P12 = 0x55,
	CS_KMSG_WATCH_TOKENS = 0x56,
	CS_KMSG_WAIT_TOKEN = 0x57,
	CS_KMSG_CANCEL = 0x58,
};

/*
 * LIST_IDENTITIES list_flags. PARTIAL: a present token was busy and had never
 * been listed while free, so its identities or CA certificates are missing;
 * the answer is true for now but must not be kept as the token's contents.
 */
#define CS_KLIST_PARTIAL 0x1u

/* Digests on the wire (our numbers, not OpenSSL's NIDs). */
enum cs_wire_md {
	CS_MD_NONE = 0,
	CS_MD_SHA1 = 1,
	CS_MD_SHA224 = 2,
	CS_MD_SHA256 = 3,
	CS_MD_SHA384 = 4,
	CS_MD_SHA512 = 5,
};

enum cs_keyd_event {
	CS_KEVENT_WAITING_FOR_PIN = 1,   /* detail: token label */
	CS_KEVENT_INSERT_TOKEN = 2,      /* detail: token label */
	CS_KEVENT_PIN_STATE = 3,         /* detail: "count-low", "final-try", "locked", "keypad" */
	CS_KEVENT_TOKEN_CHANGED = 4,     /* detail: "present LABEL" or "absent LABEL" */
	CS_KEVENT_WAITING_FOR_PASSWORD = 5, /* IMPORT_P12: detail: the file's name */
	CS_KEVENT_NOTICE = 6,            /* detail: a sentence for the user, written by keyd */
	CS_KEVENT_READER_CHANGED = 7,    /* detail: "reader-added NAME", "reader-removed NAME",
	                                    "card-inserted NAME" or "card-removed NAME" */
};

enum cs_ktoken_flags {
	CS_KTOKEN_PRESENT = 1u << 0,
	CS_KTOKEN_REMOVABLE = 1u << 1,
	CS_KTOKEN_HW_SLOT = 1u << 2,
	CS_KTOKEN_LOGIN_REQUIRED = 1u << 3,
	CS_KTOKEN_PIN_PAD = 1u << 4,
	CS_KTOKEN_PIN_COUNT_LOW = 1u << 5,
	CS_KTOKEN_PIN_FINAL_TRY = 1u << 6,
	CS_KTOKEN_PIN_LOCKED = 1u << 7,
	CS_KTOKEN_LOGGED_IN = 1u << 8,
};

enum cs_kidentity_flags {
	CS_KID_ALWAYS_AUTH = 1u << 0,
	CS_KID_LOCAL = 1u << 1,
	CS_KID_SIGN = 1u << 2,
	CS_KID_DECRYPT = 1u << 3,
	CS_KID_DERIVE = 1u << 4,
};

/* Limits keyd enforces on what the front sends. */
#define CS_KEYD_MAX_FRAME (64u * 1024)
#define CS_KEYD_MAX_STR 4096
#define CS_KEYD_MAX_SUMMARY 4096
#define CS_KEYD_MAX_BLOB 2048

/* The OpenSSL NID for a wire digest, or 0 (NID_undef). */
int cs_wire_md_to_nid(int md);
/* The wire digest for an OpenSSL NID, or CS_MD_NONE. */
int cs_wire_md_from_nid(int nid);

#endif
