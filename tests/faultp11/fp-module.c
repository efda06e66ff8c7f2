/*
 * The PKCS#11 entry points of libcardseal-faultp11.so: each one asks fp-state.c whether the
 * call may go on (token present, session valid, no fail rule), forwards it to the wrapped
 * module, and counts it when the token did the work. Only C_GetFunctionList is exported.
 */
#include <stdlib.h>
#include <string.h>

#include "faultp11.h"

#define SCRATCH_MAX 8192 /* enough for any signature, ciphertext or digest we end */

/* Copies s into a blank-padded, unterminated PKCS#11 text field. */
static void
set_padded(CK_UTF8CHAR *field, size_t size, const char *s)
{
	size_t n = strlen(s);

	memset(field, ' ', size);
	memcpy(field, s, n < size ? n : size);
}

/*
 * A failed C_Sign ends the signature in progress, and so do the other single-part, update
 * and final calls (PKCS#11 2.40 says so of each, CKR_BUFFER_TOO_SMALL excepted). When the
 * failure is made up here the wrapped module must end its operation too, or the caller's
 * next C_SignInit would get CKR_OPERATION_ACTIVE. 2.40 has no call that just cancels:
 * finish the operation into a scratch buffer, in both the multi-part and the single-part
 * way, since a mechanism may allow only one; the second call finds nothing active or ends
 * what the first could not.
 */
static void
end_operation(const struct fp_call *c)
{
	CK_BYTE scratch[SCRATCH_MAX];
	CK_BYTE none[1] = {0};
	CK_ULONG len = sizeof(scratch);
	CK_FUNCTION_LIST *fl = c->fl;

	switch (c->fn) {
	case FP_C_Sign:
	case FP_C_SignUpdate:
	case FP_C_SignFinal:
		fl->C_SignFinal(c->real, scratch, &len);
		len = sizeof(scratch);
		fl->C_Sign(c->real, none, 0, scratch, &len);
		break;
	case FP_C_Verify:
	case FP_C_VerifyUpdate:
	case FP_C_VerifyFinal:
		fl->C_VerifyFinal(c->real, none, 0);
		fl->C_Verify(c->real, none, 0, none, 0);
		break;
	case FP_C_Encrypt:
	case FP_C_EncryptUpdate:
	case FP_C_EncryptFinal:
		fl->C_EncryptFinal(c->real, scratch, &len);
		len = sizeof(scratch);
		fl->C_Encrypt(c->real, none, 0, scratch, &len);
		break;
	case FP_C_Decrypt:
	case FP_C_DecryptUpdate:
	case FP_C_DecryptFinal:
		fl->C_DecryptFinal(c->real, scratch, &len);
		len = sizeof(scratch);
		fl->C_Decrypt(c->real, none, 0, scratch, &len);
		break;
	case FP_C_Digest:
	case FP_C_DigestUpdate:
	case FP_C_DigestKey:
	case FP_C_DigestFinal:
		fl->C_DigestFinal(c->real, scratch, &len);
		len = sizeof(scratch);
		fl->C_Digest(c->real, none, 0, scratch, &len);
		break;
	case FP_C_SignRecover:
		fl->C_SignRecover(c->real, none, 0, scratch, &len);
		break;
	case FP_C_VerifyRecover:
		fl->C_VerifyRecover(c->real, none, 0, scratch, &len);
		break;
	default:
		break;
	}
}

/* Ends a call fp_enter_session refused, first ending an operation a made-up failure ended. */
static CK_RV
refuse(const struct fp_call *c, CK_RV rv)
{
	if (c->injected && c->held && rv != CKR_BUFFER_TOO_SMALL)
		end_operation(c);
	return fp_leave(c, rv, false);
}

/*
 * Declares fp_NAME, a call on a session that needs nothing but the handle translated.
 * PARAMS is its parameter list, whose first parameter is "session"; ARGS the arguments
 * for the wrapped module, with c.real for the session; WORK is false for a size query
 * (output buffer NULL), which does not count as the token's work.
 */
#define FORWARD_SESSION(NAME, WORK, PARAMS, ARGS)                                                  \
	static CK_RV fp_##NAME PARAMS                                                              \
	{                                                                                          \
		struct fp_call c;                                                                  \
		CK_RV rv;                                                                          \
                                                                                                   \
		if ((rv = fp_enter_session(&c, FP_##NAME, session)) != CKR_OK)                     \
			return refuse(&c, rv);                                                     \
		rv = c.fl->NAME ARGS;                                                              \
		return fp_leave(&c, rv, WORK);                                                     \
	}

FORWARD_SESSION(C_InitPIN, true, (CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len),
                (c.real, pin, pin_len))
FORWARD_SESSION(C_SetPIN, true,
                (CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
                 CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len),
                (c.real, old_pin, old_len, new_pin, new_len))
FORWARD_SESSION(C_GetSessionInfo, true, (CK_SESSION_HANDLE session, CK_SESSION_INFO_PTR info),
                (c.real, info))
FORWARD_SESSION(C_GetOperationState, state != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR state, CK_ULONG_PTR state_len),
                (c.real, state, state_len))
FORWARD_SESSION(C_SetOperationState, true,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR state, CK_ULONG state_len,
                 CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key),
                (c.real, state, state_len, enc_key, auth_key))
FORWARD_SESSION(C_Logout, true, (CK_SESSION_HANDLE session), (c.real))
FORWARD_SESSION(C_CreateObject, true,
                (CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                 CK_OBJECT_HANDLE_PTR object),
                (c.real, templ, count, object))
FORWARD_SESSION(C_CopyObject, true,
                (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR templ,
                 CK_ULONG count, CK_OBJECT_HANDLE_PTR new_object),
                (c.real, object, templ, count, new_object))
FORWARD_SESSION(C_DestroyObject, true, (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object),
                (c.real, object))
FORWARD_SESSION(C_GetObjectSize, true,
                (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ULONG_PTR size),
                (c.real, object, size))
FORWARD_SESSION(C_GetAttributeValue, true,
                (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR templ,
                 CK_ULONG count),
                (c.real, object, templ, count))
FORWARD_SESSION(C_SetAttributeValue, true,
                (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR templ,
                 CK_ULONG count),
                (c.real, object, templ, count))
FORWARD_SESSION(C_FindObjectsInit, true,
                (CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR templ, CK_ULONG count),
                (c.real, templ, count))
FORWARD_SESSION(C_FindObjects, true,
                (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max,
                 CK_ULONG_PTR found),
                (c.real, objects, max, found))
FORWARD_SESSION(C_FindObjectsFinal, true, (CK_SESSION_HANDLE session), (c.real))

FORWARD_SESSION(C_EncryptInit, true,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key),
                (c.real, mech, key))
FORWARD_SESSION(C_Encrypt, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len),
                (c.real, in, in_len, out, out_len))
FORWARD_SESSION(C_EncryptUpdate, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len),
                (c.real, in, in_len, out, out_len))
FORWARD_SESSION(C_EncryptFinal, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
                (c.real, out, out_len))
FORWARD_SESSION(C_DecryptInit, true,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key),
                (c.real, mech, key))
FORWARD_SESSION(C_Decrypt, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len),
                (c.real, in, in_len, out, out_len))
FORWARD_SESSION(C_DecryptUpdate, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len),
                (c.real, in, in_len, out, out_len))
FORWARD_SESSION(C_DecryptFinal, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
                (c.real, out, out_len))

FORWARD_SESSION(C_DigestInit, true, (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech),
                (c.real, mech))
FORWARD_SESSION(C_Digest, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len),
                (c.real, in, in_len, out, out_len))
FORWARD_SESSION(C_DigestUpdate, true, (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len),
                (c.real, in, in_len))
FORWARD_SESSION(C_DigestKey, true, (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key), (c.real, key))
FORWARD_SESSION(C_DigestFinal, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
                (c.real, out, out_len))

FORWARD_SESSION(C_SignInit, true,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key),
                (c.real, mech, key))
FORWARD_SESSION(C_Sign, sig != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR sig,
                 CK_ULONG_PTR sig_len),
                (c.real, in, in_len, sig, sig_len))
FORWARD_SESSION(C_SignUpdate, true, (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len),
                (c.real, in, in_len))
FORWARD_SESSION(C_SignFinal, sig != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len),
                (c.real, sig, sig_len))
FORWARD_SESSION(C_SignRecoverInit, true,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key),
                (c.real, mech, key))
FORWARD_SESSION(C_SignRecover, sig != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR sig,
                 CK_ULONG_PTR sig_len),
                (c.real, in, in_len, sig, sig_len))

FORWARD_SESSION(C_VerifyInit, true,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key),
                (c.real, mech, key))
FORWARD_SESSION(C_Verify, true,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR sig,
                 CK_ULONG sig_len),
                (c.real, in, in_len, sig, sig_len))
FORWARD_SESSION(C_VerifyUpdate, true, (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len),
                (c.real, in, in_len))
FORWARD_SESSION(C_VerifyFinal, true, (CK_SESSION_HANDLE session, CK_BYTE_PTR sig, CK_ULONG sig_len),
                (c.real, sig, sig_len))
FORWARD_SESSION(C_VerifyRecoverInit, true,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key),
                (c.real, mech, key))
FORWARD_SESSION(C_VerifyRecover, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR sig, CK_ULONG sig_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len),
                (c.real, sig, sig_len, out, out_len))

FORWARD_SESSION(C_DigestEncryptUpdate, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len),
                (c.real, in, in_len, out, out_len))
FORWARD_SESSION(C_DecryptDigestUpdate, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len),
                (c.real, in, in_len, out, out_len))
FORWARD_SESSION(C_SignEncryptUpdate, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len),
                (c.real, in, in_len, out, out_len))
FORWARD_SESSION(C_DecryptVerifyUpdate, out != NULL,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len),
                (c.real, in, in_len, out, out_len))

FORWARD_SESSION(C_GenerateKey, true,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR templ,
                 CK_ULONG count, CK_OBJECT_HANDLE_PTR key),
                (c.real, mech, templ, count, key))
FORWARD_SESSION(C_GenerateKeyPair, true,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_templ,
                 CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_templ, CK_ULONG priv_count,
                 CK_OBJECT_HANDLE_PTR pub_key, CK_OBJECT_HANDLE_PTR priv_key),
                (c.real, mech, pub_templ, pub_count, priv_templ, priv_count, pub_key, priv_key))
FORWARD_SESSION(C_WrapKey, wrapped != NULL,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE wrapping_key,
                 CK_OBJECT_HANDLE key, CK_BYTE_PTR wrapped, CK_ULONG_PTR wrapped_len),
                (c.real, mech, wrapping_key, key, wrapped, wrapped_len))
FORWARD_SESSION(C_UnwrapKey, true,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE unwrapping_key,
                 CK_BYTE_PTR wrapped, CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                 CK_OBJECT_HANDLE_PTR key),
                (c.real, mech, unwrapping_key, wrapped, wrapped_len, templ, count, key))
FORWARD_SESSION(C_DeriveKey, true,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base_key,
                 CK_ATTRIBUTE_PTR templ, CK_ULONG count, CK_OBJECT_HANDLE_PTR key),
                (c.real, mech, base_key, templ, count, key))
FORWARD_SESSION(C_SeedRandom, true,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR seed, CK_ULONG seed_len),
                (c.real, seed, seed_len))
FORWARD_SESSION(C_GenerateRandom, true,
                (CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG out_len),
                (c.real, out, out_len))
FORWARD_SESSION(C_GetFunctionStatus, true, (CK_SESSION_HANDLE session), (c.real))
FORWARD_SESSION(C_CancelFunction, true, (CK_SESSION_HANDLE session), (c.real))

/* Declares fp_NAME, a call about a slot whose token must be present. */
#define FORWARD_TOKEN(NAME, WORK, PARAMS, ARGS)                                                    \
	static CK_RV fp_##NAME PARAMS                                                              \
	{                                                                                          \
		struct fp_call c;                                                                  \
		CK_RV rv;                                                                          \
                                                                                                   \
		if ((rv = fp_enter_slot(&c, FP_##NAME, slot, true)) != CKR_OK)                     \
			return rv;                                                                 \
		rv = c.fl->NAME ARGS;                                                              \
		return fp_leave(&c, rv, WORK);                                                     \
	}

FORWARD_TOKEN(C_GetMechanismList, list != NULL,
              (CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count),
              (slot, list, count))
FORWARD_TOKEN(C_GetMechanismInfo, true,
              (CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info),
              (slot, type, info))

static CK_RV
fp_C_Initialize(CK_VOID_PTR init_args)
{
	return fp_state_initialize(init_args);
}

static CK_RV
fp_C_Finalize(CK_VOID_PTR reserved)
{
	return fp_state_finalize(reserved);
}

static CK_RV
fp_C_GetInfo(CK_INFO_PTR info)
{
	struct fp_call c;
	CK_RV rv;

	if ((rv = fp_enter(&c, FP_C_GetInfo)) != CKR_OK)
		return rv;
	if ((rv = c.fl->C_GetInfo(info)) == CKR_OK) {
		/* Tests that find this name know they talk to the injector, not to SoftHSM. */
		info->cryptokiVersion.major = 2;
		info->cryptokiVersion.minor = 40;
		set_padded(info->manufacturerID, sizeof(info->manufacturerID),
		           "Cardseal fault injector");
		set_padded(info->libraryDescription, sizeof(info->libraryDescription),
		           "Cardseal faultp11");
	}
	return fp_leave(&c, rv, true);
}

/* Returns in *ret_slots (to free) the wrapped module's slot list, whatever its length. */
static CK_RV
wrapped_slot_list(CK_FUNCTION_LIST *fl, CK_BBOOL token_present, CK_SLOT_ID **ret_slots,
                  CK_ULONG *ret_n)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	/* A slot may appear between the two calls; a few tries are enough for a test. */
	for (int tries = 0; tries < 4; tries++) {
		if ((rv = fl->C_GetSlotList(token_present, NULL, &n)) != CKR_OK)
			goto out;
		free(slots);
		if ((slots = calloc(n + 1, sizeof(*slots))) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		if ((rv = fl->C_GetSlotList(token_present, slots, &n)) != CKR_BUFFER_TOO_SMALL)
			goto out;
	}
out:
	if (rv != CKR_OK) {
		free(slots);
		slots = NULL;
		n = 0;
	}
	*ret_slots = slots;
	*ret_n = n;
	return rv;
}

static CK_RV
fp_C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_ULONG shown = 0;
	struct fp_call c;
	CK_RV rv;

	if ((rv = fp_enter(&c, FP_C_GetSlotList)) != CKR_OK)
		return rv;
	if (count == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = wrapped_slot_list(c.fl, token_present, &slots, &n)) != CKR_OK)
		goto out;
	fp_slots_learn(c.fl, slots, n);
	for (CK_ULONG i = 0; i < n; i++) {
		if (!token_present || !fp_slot_hidden(slots[i]))
			slots[shown++] = slots[i];
	}
	if (list != NULL && *count < shown)
		rv = CKR_BUFFER_TOO_SMALL;
	else if (list != NULL)
		memcpy(list, slots, shown * sizeof(*slots));
	*count = shown;
out:
	free(slots);
	return fp_leave(&c, rv, list != NULL);
}

static CK_RV
fp_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	struct fp_call c;
	CK_RV rv;

	if ((rv = fp_enter_slot(&c, FP_C_GetSlotInfo, slot, false)) != CKR_OK)
		return rv;
	if ((rv = c.fl->C_GetSlotInfo(slot, info)) == CKR_OK) {
		/* Every wrapped slot is a reader its card can be pulled from. */
		info->flags |= CKF_REMOVABLE_DEVICE;
		if (c.hidden)
			info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
	}
	return fp_leave(&c, rv, true);
}

static CK_RV
fp_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	struct fp_call c;
	CK_RV rv;

	if ((rv = fp_enter_slot(&c, FP_C_GetTokenInfo, slot, true)) != CKR_OK)
		return rv;
	if ((rv = c.fl->C_GetTokenInfo(slot, info)) == CKR_OK) {
		fp_slot_set_label(slot, info->label);
		info->flags |= c.token_flags;
	}
	return fp_leave(&c, rv, true);
}

static CK_RV
fp_C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR so_pin, CK_ULONG so_pin_len, CK_UTF8CHAR_PTR label)
{
	struct fp_call c;
	CK_RV rv;

	if ((rv = fp_enter_slot(&c, FP_C_InitToken, slot, true)) != CKR_OK)
		return rv;
	rv = c.fl->C_InitToken(slot, so_pin, so_pin_len, label);
	/* A new label may be one the rules hide. */
	if (rv == CKR_OK && label != NULL)
		fp_slot_set_label(slot, label);
	return fp_leave(&c, rv, true);
}

static CK_RV
fp_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR application, CK_NOTIFY notify,
                 CK_SESSION_HANDLE_PTR ret_session)
{
	CK_SESSION_HANDLE real = CK_INVALID_HANDLE;
	struct fp_call c;
	CK_RV rv;

	if ((rv = fp_enter_slot(&c, FP_C_OpenSession, slot, true)) != CKR_OK)
		return rv;
	if (ret_session == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	/*
	 * No notify callback goes on: it would receive the wrapped module's handle, which the
	 * caller has never seen (SoftHSM calls none anyway).
	 */
	(void)application;
	(void)notify;
	if ((rv = c.fl->C_OpenSession(slot, flags, NULL, NULL, &real)) != CKR_OK)
		goto out;
	rv = fp_session_add(slot, real, ret_session);
out:
	return fp_leave(&c, rv, true);
}

static CK_RV
fp_C_CloseSession(CK_SESSION_HANDLE session)
{
	struct fp_call c;
	CK_RV rv;

	if ((rv = fp_enter_session(&c, FP_C_CloseSession, session)) != CKR_OK)
		return refuse(&c, rv);
	rv = c.fl->C_CloseSession(c.real);
	if (rv == CKR_OK || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED)
		fp_session_forget(session);
	return fp_leave(&c, rv, true);
}

static CK_RV
fp_C_CloseAllSessions(CK_SLOT_ID slot)
{
	struct fp_call c;
	CK_RV rv;

	/* Also with the token pulled: its sessions are gone, the caller may tidy up. */
	if ((rv = fp_enter_slot(&c, FP_C_CloseAllSessions, slot, false)) != CKR_OK)
		return rv;
	if ((rv = c.fl->C_CloseAllSessions(slot)) == CKR_OK)
		fp_session_forget_slot(slot);
	return fp_leave(&c, rv, true);
}

static CK_RV
fp_C_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	bool user_pin = user == CKU_USER || user == CKU_CONTEXT_SPECIFIC;
	bool forwarded = false;
	struct fp_call c;
	char *pad;
	CK_RV rv;

	if ((rv = fp_enter_session(&c, FP_C_Login, session)) != CKR_OK)
		return refuse(&c, rv);
	if (user_pin && (c.token_flags & CKF_USER_PIN_LOCKED)) {
		rv = CKR_PIN_LOCKED;
		goto out;
	}
	if (user_pin && pin == NULL && (c.token_flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
		/* The user types on the reader's keypad; a keypad nobody types on is a cancel. */
		if ((pad = getenv("FAULTP11_PAD_PIN")) == NULL) {
			rv = CKR_FUNCTION_CANCELED;
			goto out;
		}
		pin = (CK_UTF8CHAR_PTR)pad;
		pin_len = strlen(pad);
	}
	rv = c.fl->C_Login(c.real, user, pin, pin_len);
	forwarded = true;
out:
	return fp_leave(&c, rv, forwarded);
}

static CK_RV
fp_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR ret_slot, CK_VOID_PTR reserved)
{
	struct fp_call c;
	CK_RV rv;

	if ((rv = fp_enter(&c, FP_C_WaitForSlotEvent)) != CKR_OK)
		return rv;
	/* As SoftHSM: a blocked call could only be ended by C_Finalize. */
	if (!(flags & CKF_DONT_BLOCK))
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (ret_slot == NULL)
		return CKR_ARGUMENTS_BAD;
	if (fp_slot_take_event(ret_slot))
		return fp_leave(&c, CKR_OK, true);
	/* A wrapped module with readers of its own may have real events. */
	rv = c.fl->C_WaitForSlotEvent(flags, ret_slot, reserved);
	if (rv == CKR_FUNCTION_NOT_SUPPORTED)
		rv = CKR_NO_EVENT;
	return fp_leave(&c, rv, true);
}

/* An X-macro expansion, not code to lay out. */
/* clang-format off */
static CK_FUNCTION_LIST function_list = {
	.version = { 2, 40 },
#define FP_FN_ENTRY(name) .name = fp_##name,
	FP_FUNCTIONS(FP_FN_ENTRY)
#undef FP_FN_ENTRY
	.C_GetFunctionList = C_GetFunctionList,
};
/* clang-format on */

__attribute__((visibility("default"))) CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret_list)
{
	if (ret_list == NULL)
		return CKR_ARGUMENTS_BAD;
	*ret_list = &function_list;
	return CKR_OK;
}
