/*
 * faultp11: a PKCS#11 module that wraps another one (SoftHSM by default) and, on command
 * from a test, does what SoftHSM cannot: pull and re-insert a token, fail a chosen function
 * with a chosen CK_RV, report PIN flags and a PIN pad, and count what it forwards.
 *
 * Environment (read by C_Initialize unless said otherwise):
 *   FAULTP11_MODULE    the module to wrap; default /usr/lib/softhsm/libsofthsm2.so
 *   FAULTP11_CONTROL   the control file (language below); re-read whenever its identity
 *                      (device, inode, size, mtime, ctime) changes, checked on every call
 *   FAULTP11_COUNTERS  file rewritten (temp + rename) after every counted call:
 *                      "C_Sign 3" lines, one per function with a non-zero count. Counts
 *                      are per process: each process writes its own.
 *   FAULTP11_PAD_PIN   read by C_Login: the PIN "typed on the reader's keypad"
 *
 * Control language: one command a line, words separated by blanks, '#' starts a comment.
 *
 *   hide LABEL
 *       The token labelled LABEL is pulled out of its reader.
 *   flags LABEL [count-low] [final-try] [locked] [protected-auth]
 *       C_GetTokenInfo reports these flags on top of the real ones. "locked" makes
 *       C_Login(CKU_USER or CKU_CONTEXT_SPECIFIC) fail with CKR_PIN_LOCKED; with
 *       "protected-auth" a C_Login without a PIN uses FAULTP11_PAD_PIN.
 *   fail FUNCTION RV [once|always] [token=LABEL]
 *       FUNCTION (C_Sign, ...) returns RV (CKR_PIN_LOCKED, 0xa4, 164) instead of running;
 *       "once" fires once per generation of the control file, "always" is the default.
 *   reset-counters
 *       Zeroes the counters when this generation is loaded.
 *
 * Labels cannot contain blanks. A line that does not parse is reported on stderr when
 * its generation is loaded and otherwise ignored.
 */
#ifndef FAULTP11_H
#define FAULTP11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include <p11-kit/pkcs11.h>

/* Every entry point but C_GetFunctionList, in function-list order. */
#define FP_FUNCTIONS(X)                                                                            \
	X(C_Initialize)                                                                            \
	X(C_Finalize)                                                                              \
	X(C_GetInfo)                                                                               \
	X(C_GetSlotList)                                                                           \
	X(C_GetSlotInfo)                                                                           \
	X(C_GetTokenInfo)                                                                          \
	X(C_GetMechanismList)                                                                      \
	X(C_GetMechanismInfo)                                                                      \
	X(C_InitToken)                                                                             \
	X(C_InitPIN)                                                                               \
	X(C_SetPIN)                                                                                \
	X(C_OpenSession)                                                                           \
	X(C_CloseSession)                                                                          \
	X(C_CloseAllSessions)                                                                      \
	X(C_GetSessionInfo)                                                                        \
	X(C_GetOperationState)                                                                     \
	X(C_SetOperationState)                                                                     \
	X(C_Login)                                                                                 \
	X(C_Logout)                                                                                \
	X(C_CreateObject)                                                                          \
	X(C_CopyObject)                                                                            \
	X(C_DestroyObject)                                                                         \
	X(C_GetObjectSize)                                                                         \
	X(C_GetAttributeValue)                                                                     \
	X(C_SetAttributeValue)                                                                     \
	X(C_FindObjectsInit)                                                                       \
	X(C_FindObjects)                                                                           \
	X(C_FindObjectsFinal)                                                                      \
	X(C_EncryptInit)                                                                           \
	X(C_Encrypt)                                                                               \
	X(C_EncryptUpdate)                                                                         \
	X(C_EncryptFinal)                                                                          \
	X(C_DecryptInit)                                                                           \
	X(C_Decrypt)                                                                               \
	X(C_DecryptUpdate)                                                                         \
	X(C_DecryptFinal)                                                                          \
	X(C_DigestInit)                                                                            \
	X(C_Digest)                                                                                \
	X(C_DigestUpdate)                                                                          \
	X(C_DigestKey)                                                                             \
	X(C_DigestFinal)                                                                           \
	X(C_SignInit)                                                                              \
	X(C_Sign)                                                                                  \
	X(C_SignUpdate)                                                                            \
	X(C_SignFinal)                                                                             \
	X(C_SignRecoverInit)                                                                       \
	X(C_SignRecover)                                                                           \
	X(C_VerifyInit)                                                                            \
	X(C_Verify)                                                                                \
	X(C_VerifyUpdate)                                                                          \
	X(C_VerifyFinal)                                                                           \
	X(C_VerifyRecoverInit)                                                                     \
	X(C_VerifyRecover)                                                                         \
	X(C_DigestEncryptUpdate)                                                                   \
	X(C_DecryptDigestUpdate)                                                                   \
	X(C_SignEncryptUpdate)                                                                     \
	X(C_DecryptVerifyUpdate)                                                                   \
	X(C_GenerateKey)                                                                           \
	X(C_GenerateKeyPair)                                                                       \
	X(C_WrapKey)                                                                               \
	X(C_UnwrapKey)                                                                             \
	X(C_DeriveKey)                                                                             \
	X(C_SeedRandom)                                                                            \
	X(C_GenerateRandom)                                                                        \
	X(C_GetFunctionStatus)                                                                     \
	X(C_CancelFunction)                                                                        \
	X(C_WaitForSlotEvent)

/* An X-macro expansion, not code to lay out. */
/* clang-format off */
enum fp_fn {
#define FP_FN_ENUM(name) FP_##name,
	FP_FUNCTIONS(FP_FN_ENUM)
#undef FP_FN_ENUM
	FP_FN_COUNT
};
/* clang-format on */

/* fp-names.c: names of functions and return values, for the control file and messages. */

/* Returns "C_Sign" for FP_C_Sign; "?" when out of range. */
const char *fp_fn_name(enum fp_fn fn);
/* Returns 0 and sets *ret_fn, or -EINVAL for a name that is not a function. */
int fp_fn_parse(const char *name, enum fp_fn *ret_fn);
/* Returns "CKR_PIN_LOCKED" for 0xa4, NULL when the value has no name here. */
const char *fp_rv_name(CK_RV rv);
/* Accepts a CKR_ name, hex (0xa4) or decimal; returns 0 or -EINVAL. */
int fp_rv_parse(const char *text, CK_RV *ret_rv);

/* fp-control.c: the control language, parsed into rules. */

#define FP_LABEL_MAX 32 /* CK_TOKEN_INFO.label is 32 blank-padded bytes */
#define FP_MAX_RULES 32 /* of each kind; more are reported and ignored */
#define FP_LINE_MAX 512
#define FP_CONTROL_MAX (64 * 1024)

struct fp_fail_rule {
	enum fp_fn fn;
	CK_RV rv;
	bool once;
	bool fired;                   /* a once rule that has fired this generation */
	char token[FP_LABEL_MAX + 1]; /* empty: any token, or no token at all */
};

struct fp_flags_rule {
	char token[FP_LABEL_MAX + 1];
	CK_FLAGS flags;
};

struct fp_rules {
	char hidden[FP_MAX_RULES][FP_LABEL_MAX + 1];
	size_t n_hidden;
	struct fp_flags_rule flags[FP_MAX_RULES];
	size_t n_flags;
	struct fp_fail_rule fails[FP_MAX_RULES];
	size_t n_fails;
	bool reset_counters;
	unsigned int n_ignored; /* lines that did not parse */
};

/*
 * What tells one generation of the control file from the next: tests replace the file
 * (temp + rename), so the inode changes; size and times catch an edit in place.
 */
struct fp_ident {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

/* Returns the identity of the file st describes (NULL: no file). */
struct fp_ident fp_ident_of(const struct stat *st);
bool fp_ident_equal(const struct fp_ident *a, const struct fp_ident *b);

/*
 * Parses len bytes of control text into *ret (always fully written, empty rules on an empty
 * text). Lines that do not parse are counted in ret->n_ignored and described on diag
 * (NULL: silently), prefixed with origin. Returns 0; there is no fatal error.
 */
int fp_rules_parse(const char *text, size_t len, const char *origin, FILE *diag,
                   struct fp_rules *ret);
/*
 * Reads and parses the control file at path; a missing file means no rules. *ret_ident is
 * the identity of the file actually read, so that a file replaced between a stat and the
 * read is read again. A file over FP_CONTROL_MAX bytes is reported and gives no rules.
 * Returns 0 or a negative errno; *ret_ident and *ret_rules are written either way.
 */
int fp_rules_load(const char *path, FILE *diag, struct fp_ident *ret_ident,
                  struct fp_rules *ret_rules);
/* Returns true when LABEL is hidden by the rules. */
bool fp_rules_hidden(const struct fp_rules *rules, const char *label);
/* Returns the extra CKF_ token flags the rules give LABEL (0 when none). */
CK_FLAGS fp_rules_flags(const struct fp_rules *rules, const char *label);
/*
 * Finds the fail rule for fn on the token labelled label (NULL: the call concerns no
 * token), marks a once rule fired, and returns true with *ret_rv set; false when none.
 */
bool fp_rules_take_failure(struct fp_rules *rules, enum fp_fn fn, const char *label, CK_RV *ret_rv);

/* fp-counters.c: per-process counts of successful forwarded calls. */

/* Sets the counters file (NULL: keep counts in memory only). Returns 0 or -ENOMEM. */
int fp_counters_set_file(const char *path);
/* Counts one call of fn and rewrites the counters file if there is one. */
void fp_counters_add(enum fp_fn fn);
/* Zeroes every count and rewrites the counters file if there is one. */
void fp_counters_reset(void);

/*
 * fp-state.c: the wrapped module, slots, sessions and rules, behind one mutex.
 *
 * Every entry point starts with one of the fp_enter functions, which re-reads the control
 * file if it changed, checks the token is there and applies fail rules; on CKR_OK it may
 * forward through c->fl, and it ends with fp_leave.
 */
struct fp_call {
	enum fp_fn fn;
	CK_FUNCTION_LIST *fl; /* the wrapped module */
	CK_SLOT_ID slot;
	bool hidden;              /* the slot's token is pulled out */
	CK_SESSION_HANDLE handle; /* the caller's session handle */
	CK_SESSION_HANDLE real;   /* the wrapped module's */
	bool held;                /* the session is busy with this call until fp_leave */
	CK_FLAGS token_flags;     /* flags rules for the slot's token */
	bool injected;            /* the CK_RV returned by fp_enter came from a fail rule */
};

CK_RV fp_state_initialize(CK_VOID_PTR init_args);
CK_RV fp_state_finalize(CK_VOID_PTR reserved);

/* For calls about no slot (C_GetInfo, C_GetSlotList, C_WaitForSlotEvent). */
CK_RV fp_enter(struct fp_call *c, enum fp_fn fn);
/* For calls about a slot; when need_token, a pulled token gives CKR_TOKEN_NOT_PRESENT. */
CK_RV fp_enter_slot(struct fp_call *c, enum fp_fn fn, CK_SLOT_ID slot, bool need_token);
/*
 * For calls on a session: translates the handle into c->real. Unless it refuses the
 * session itself, the session is held until fp_leave, which must follow, also after a
 * made-up failure.
 */
CK_RV fp_enter_session(struct fp_call *c, enum fp_fn fn, CK_SESSION_HANDLE session);
/*
 * Ends a call: counts it when it succeeded and did its work (not a size query), and lets
 * go of its session. Returns rv, or CKR_DEVICE_REMOVED for a call that failed while the
 * token of its session was pulled.
 */
CK_RV fp_leave(const struct fp_call *c, CK_RV rv, bool did_work);

/* Learns the labels of slots not seen before, so that hide rules can find them. */
void fp_slots_learn(CK_FUNCTION_LIST *fl, const CK_SLOT_ID *slots, CK_ULONG n);
/* Returns true when the token in slot is pulled out. */
bool fp_slot_hidden(CK_SLOT_ID slot);
/* Records the label a token reports (blank padded, 32 bytes). */
void fp_slot_set_label(CK_SLOT_ID slot, const CK_UTF8CHAR *label32);
/* Takes the slot whose presence changed since it was last reported; false when none. */
bool fp_slot_take_event(CK_SLOT_ID *ret_slot);

/* Registers a session the wrapped module opened; returns the caller's handle in *ret. */
CK_RV fp_session_add(CK_SLOT_ID slot, CK_SESSION_HANDLE real, CK_SESSION_HANDLE *ret);
/* Forgets one session, or all sessions of a slot. */
void fp_session_forget(CK_SESSION_HANDLE session);
void fp_session_forget_slot(CK_SLOT_ID slot);

#endif
