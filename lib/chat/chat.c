/* chat.c - the seed families' chat templates, written out: a conversation to text
 * (tlm_chat_render) or to ids (tlm_chat_tokenize), and the ids that continue a conversation
 * kept in a KV cache (tlm_chat_tokenize_continue). docs/chat-templates.md has each family's
 * exact strings and where they come from.
 *
 * A template is a table row: text before and after each message by role, the generation
 * prompt, and a few flags. Template text ("literals") may hold special-token markers, which
 * become their ids; message contents are always ordinary text. In the literals:
 *   EOS / BOS    the tokenizer's EOS / BOS token (TinyLlama </s>, StableLM <|endoftext|>,
 *                Gemma <bos>, Phi-3 <s>)
 *   CUT          a boundary across which text is not encoded together (Qwen v1 encodes
 *                every piece of make_context on its own)
 * Text between special tokens is otherwise encoded as one piece, as a Hugging Face tokenizer
 * does with the rendered string; with SentencePiece each piece gets the dummy prefix (the
 * llama.cpp behaviour, see the docs). The whitespace a special token strips (Phi-3's
 * <|user|>, <|end|> ... take the whitespace after them) is dropped across literals and
 * contents alike, as the tokenizer's own split drops it from the rendered text. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer.h"

#define EOS "\x01"
#define BOS "\x02"
#define CUT "\x03"

enum { SYSTEM, USER, ASSISTANT };

typedef struct tmpl {
    const char *start;   /* before the first message */
    const char *head[3]; /* by role; head[SYSTEM] NULL: the template has no system role */
    const char *tail[3];
    const char *gen;                 /* the generation prompt (after the last message) */
    const char *no_gen;              /* instead of it when no generation prompt is asked for */
    const char *sep;                 /* between messages (not before the first) */
    const char *default_system;      /* when the first message is not a system one */
    const char *stops[3];            /* texts of tokens that end a turn, besides EOS */
    const char *eos_text, *bos_text; /* when no tokenizer is given */
    bool drop_system;                /* system messages are silently left out (Phi-3 April 2024) */
    bool alternate;                  /* user/assistant must alternate, user first (Gemma) */
    bool trim;                       /* contents are stripped of surrounding whitespace (Gemma) */
    bool separate;                   /* every literal and content encoded alone (Qwen v1) */
    bool emits_bos;                  /* the template writes BOS itself: the tokenizer adds none */
    bool jinja_system; /* the default system message comes from the Jinja text (ChatML) */
    bool gen_in_loop;  /* the prompt is written inside the message loop: none without
                        * messages (Zephyr) */
} tmpl;

static const tmpl templates[] = {
    [TLM_CHAT_ZEPHYR] =
        {
            .head = {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"},
            .tail = {EOS "\n", EOS "\n", EOS "\n"},
            .gen = "<|assistant|>\n",
            .eos_text = "</s>",
            .gen_in_loop = true,
        },
    [TLM_CHAT_PHI2] =
        {
            /* libtinylm's multi-turn form of the card's QA format */
            .head = {"", "Instruct: ", " "},
            .tail = {"\n", "\nOutput:", "\n"},
            .gen = "",
            .stops = {"<|endoftext|>"},
        },
    [TLM_CHAT_PHI3] =
        {
            .head = {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"},
            .tail = {"<|end|>\n", "<|end|>\n", "<|end|>\n"},
            .gen = "<|assistant|>\n",
            .no_gen = EOS,
            .stops = {"<|end|>", "<|endoftext|>", "<|assistant|>"},
            .eos_text = "<|endoftext|>",
        },
    [TLM_CHAT_PHI3_NOSYS] =
        {
            .start = BOS,
            .head = {"", "<|user|>\n", ""},
            .tail = {"", "<|end|>\n<|assistant|>\n", "<|end|>\n"},
            .gen = "",
            .stops = {"<|end|>", "<|endoftext|>", "<|assistant|>"},
            .bos_text = "<s>",
            .drop_system = true,
            .emits_bos = true,
        },
    [TLM_CHAT_GEMMA] =
        {
            .start = BOS,
            .head = {NULL, "<start_of_turn>user\n", "<start_of_turn>model\n"},
            .tail = {NULL, "<end_of_turn>\n", "<end_of_turn>\n"},
            .gen = "<start_of_turn>model\n",
            .stops = {"<end_of_turn>", "<eos>"},
            .bos_text = "<bos>",
            .alternate = true,
            .trim = true,
            .emits_bos = true,
        },
    [TLM_CHAT_CHATML] =
        {
            .head = {"<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n"},
            .tail = {"<|im_end|>\n", "<|im_end|>\n", "<|im_end|>\n"},
            .gen = "<|im_start|>assistant\n",
            .stops = {"<|im_end|>", "<|endoftext|>", "<|im_start|>"},
            .jinja_system = true,
        },
    [TLM_CHAT_QWEN] =
        {
            .head = {"<|im_start|>system" CUT "\n", "<|im_start|>user" CUT "\n",
                     "<|im_start|>assistant" CUT "\n"},
            .tail = {"<|im_end|>", "<|im_end|>", "<|im_end|>"},
            .gen = "\n" CUT "<|im_start|>assistant" CUT "\n",
            .sep = "\n",
            .default_system = "You are a helpful assistant.",
            .stops = {"<|im_end|>", "<|endoftext|>", "<|im_start|>"},
            .separate = true,
        },
};

static const tmpl *get(tlm_chat_template t)
{
    return t > TLM_CHAT_UNKNOWN && (size_t)t < sizeof templates / sizeof templates[0]
               ? &templates[t]
               : NULL;
}

/* ---- output: a string, or ids --------------------------------------------------------- */

typedef struct out {
    const tmpl *t;
    const tlm_tokenizer *tok;
    bool ids_mode;
    tlm_status st;
    /* string mode */
    char *buf;
    size_t cap, len;
    /* ids mode: pending text is encoded at each special token, CUT and the end */
    tlm_id_sink *ids;
    char *text;
    size_t tlen, tcap;
    bool strip; /* the last id takes the whitespace after it (rstrip): drop what comes */
} out;

static void append(out *o, const char *s, size_t n)
{
    if (o->st != TLM_OK || n == 0) return;
    if (o->ids_mode && o->strip) { /* across literals and contents, as in the rendered text */
        size_t ws = (size_t)tlm_ws_prefix(s, n);
        s += ws;
        n -= ws;
        if (n == 0) return;
        o->strip = false;
    }
    if (!o->ids_mode) {
        if (o->len + n < o->cap) memcpy(o->buf + o->len, s, n);
        o->len += n;
        return;
    }
    if (o->tlen + n > o->tcap) {
        size_t cap = o->tcap ? o->tcap : 256;
        while (cap < o->tlen + n)
            cap *= 2;
        char *t = realloc(o->text, cap + 1);
        if (!t) {
            o->st = TLM_ERR_NO_MEMORY;
            return;
        }
        o->text = t;
        o->tcap = cap;
    }
    memcpy(o->text + o->tlen, s, n);
    o->tlen += n;
}

static void flush(out *o)
{
    if (!o->ids_mode || o->st != TLM_OK || o->tlen == 0) return;
    o->st = tlm_tok_encode(o->tok, o->text, o->tlen, false, o->ids);
    o->tlen = 0;
}

/* A special token of the template: the whitespace rules its tokenizer files declare apply
 * as the tokenizer's own split applies them (added.c), so a chat prompt gets the ids the
 * rendered text gets from tlm_tokenize_special / Hugging Face. */
static void push_id(out *o, int32_t id)
{
    if (id >= 0 && (o->tok->attrs[id] & TLM_ADDED_LSTRIP))
        o->tlen -= (size_t)tlm_ws_suffix(o->text, o->tlen);
    flush(o);
    if (o->st != TLM_OK) return;
    if (id < 0) {
        o->st = TLM_ERR_FORMAT; /* the tokenizer lacks a token the template needs */
        return;
    }
    tlm_sink_push(o->ids, id);
    o->strip = (o->tok->attrs[id] & TLM_ADDED_RSTRIP) != 0;
}

/* The text of a special id, for string mode. */
static void special_text(out *o, int32_t id, const char *fallback)
{
    if (o->tok && id >= 0) {
        const tlm_tokenizer *k = o->tok;
        append(o, k->text + k->text_off[id], k->text_off[id + 1] - k->text_off[id]);
    } else {
        append(o, fallback ? fallback : "", fallback ? strlen(fallback) : 0);
    }
}

static void put_lit(out *o, const char *s)
{
    if (!s) return;
    while (*s && o->st == TLM_OK) {
        if (*s == *EOS || *s == *BOS) {
            bool eos = *s == *EOS;
            if (o->ids_mode)
                push_id(o, eos ? o->tok->eos : o->tok->bos);
            else
                special_text(o, o->tok ? (eos ? o->tok->eos : o->tok->bos) : -1,
                             eos ? (o->t->eos_text ? o->t->eos_text : "</s>")
                                 : (o->t->bos_text ? o->t->bos_text : "<s>"));
            s++;
            continue;
        }
        if (*s == *CUT) {
            flush(o);
            s++;
            continue;
        }
        uint64_t mlen;
        int32_t id =
            o->ids_mode ? tlm_added_match(o->tok, s, strlen(s), TLM_ADDED_PASS_ANY, &mlen) : -1;
        if (id >= 0) {
            push_id(o, id);
            s += mlen;
        } else {
            append(o, s, 1);
            s++;
        }
    }
    if (o->t->separate) flush(o);
}

/* Python's str.isspace() at s (what Jinja's trim strips); returns its length or 0. */
static size_t space_at(const unsigned char *s, size_t n)
{
    if (n >= 1 && ((s[0] >= 0x09 && s[0] <= 0x0D) || (s[0] >= 0x1C && s[0] <= 0x20))) return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (n >= 3 && s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3; /* U+1680 */
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
        (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3; /* U+2000..200A, 2028, 2029, 202F */
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3; /* U+205F */
    if (n >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3; /* U+3000 */
    return 0;
}

static void put_content(out *o, const char *s)
{
    size_t n = strlen(s);
    if (o->t->trim) {
        size_t k;
        while (n > 0 && (k = space_at((const unsigned char *)s, n)) > 0) {
            s += k;
            n -= k;
        }
        /* Trailing: find the last non-space character boundary by scanning forward. */
        size_t end = 0;
        for (size_t i = 0; i < n;) {
            size_t sp = space_at((const unsigned char *)s + i, n - i);
            if (sp) {
                i += sp;
            } else {
                i++;
                while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
                    i++;
                end = i;
            }
        }
        n = end;
    }
    append(o, s, n);
    if (o->t->separate) flush(o);
}

static int role_of(const char *role)
{
    if (!role) return -1;
    if (!strcmp(role, "system")) return SYSTEM;
    if (!strcmp(role, "user")) return USER;
    if (!strcmp(role, "assistant")) return ASSISTANT;
    return -1;
}

static tlm_status check(const tmpl *t, const tlm_chat_message *msgs, int32_t n, bool cont,
                        tlm_error *err)
{
    if (n < 0 || (n > 0 && !msgs)) return tlm_fail(err, TLM_ERR_ARG, "chat: %d messages", (int)n);
    int expect = USER;
    for (int32_t i = 0; i < n; i++) {
        int r = role_of(msgs[i].role);
        if (r < 0 || !msgs[i].content)
            return tlm_fail(err, TLM_ERR_ARG,
                            "chat: message %d: role \"%.20s\" is not system, "
                            "user or assistant, or its content is NULL",
                            (int)i, msgs[i].role ? msgs[i].role : "(null)");
        if (r == SYSTEM && !t->head[SYSTEM])
            return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                            "chat: this template has no system role "
                            "(Gemma's official template rejects it); put the system text in "
                            "the first user message");
        if (t->alternate && r != expect)
            return tlm_fail(err, TLM_ERR_ARG,
                            "chat: message %d: this template needs user and "
                            "assistant messages to alternate, user first",
                            (int)i);
        expect = r == USER ? ASSISTANT : USER;
    }
    (void)cont;
    return TLM_OK;
}

/* The whole conversation (or, with cont, its continuation) into o. */
static void walk(out *o, const tlm_chat_message *msgs, int32_t n, bool add_gen, bool cont)
{
    const tmpl *t = o->t;
    bool first = true;
    if (cont) {
        put_lit(o, t->tail[ASSISTANT]); /* closes the reply the model just gave */
        first = false;
    } else {
        if (!t->emits_bos && o->ids_mode && tlm_tokenizer_wants_bos(o->tok))
            push_id(o, o->tok->bos);
        put_lit(o, t->start);
        char jinja_sys[512];
        const char *sys = t->default_system;
        if (t->jinja_system && o->tok &&
            tlm_chat_default_system(o->tok->chat_template, jinja_sys, sizeof jinja_sys) >= 0)
            sys = jinja_sys;
        /* Qwen v1 always has a system turn; the ChatML Jinja adds one only to messages. */
        bool have_sys = n > 0 && role_of(msgs[0].role) == SYSTEM;
        if (sys && !have_sys && (n > 0 || !t->jinja_system)) {
            put_lit(o, t->head[SYSTEM]);
            put_content(o, sys);
            put_lit(o, t->tail[SYSTEM]);
            first = false;
        }
    }
    for (int32_t i = 0; i < n; i++) {
        int r = role_of(msgs[i].role);
        if (r == SYSTEM && t->drop_system) continue;
        if (!first) put_lit(o, t->sep);
        first = false;
        put_lit(o, t->head[r]);
        put_content(o, msgs[i].content);
        put_lit(o, t->tail[r]);
    }
    if (add_gen || cont) {
        if (n > 0 || !t->gen_in_loop) put_lit(o, t->gen);
    } else {
        put_lit(o, t->no_gen);
    }
    flush(o);
}

TLM_API tlm_status tlm_chat_render(tlm_chat_template t, const tlm_tokenizer *tok,
                                   const tlm_chat_message *msgs, int32_t n_msgs,
                                   bool add_generation_prompt, char *buf, size_t cap, size_t *len,
                                   tlm_error *err)
{
    if (len) *len = 0;
    const tmpl *tp = get(t);
    if (!tp || !len || (cap > 0 && !buf))
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_chat_render: unknown template %d or NULL "
                        "argument",
                        (int)t);
    tlm_status st = check(tp, msgs, n_msgs, false, err);
    if (st != TLM_OK) return st;
    out o = {.t = tp, .tok = tok, .buf = buf, .cap = cap};
    walk(&o, msgs, n_msgs, add_generation_prompt, false);
    *len = o.len;
    if (cap > 0) buf[o.len < cap ? o.len : cap - 1] = '\0';
    if (o.len >= cap)
        return tlm_fail(err, TLM_ERR_BUFFER_TOO_SMALL,
                        "tlm_chat_render: the text needs %zu bytes "
                        "(with its terminator); the buffer has %zu",
                        o.len + 1, cap);
    return TLM_OK;
}

static tlm_status tokenize(tlm_chat_template t, const tlm_tokenizer *tok,
                           const tlm_chat_message *msgs, int32_t n_msgs, bool add_gen, bool cont,
                           int32_t *ids, int32_t cap, int32_t *n_out, tlm_error *err)
{
    if (n_out) *n_out = 0;
    const tmpl *tp = get(t);
    if (!tp || !tok || !n_out || cap < 0 || (cap > 0 && !ids))
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_chat_tokenize: unknown template %d or bad "
                        "argument",
                        (int)t);
    tlm_status st = check(tp, msgs, n_msgs, cont, err);
    if (st != TLM_OK) return st;
    tlm_id_sink sink = {ids, cap, 0};
    out o = {.t = tp, .tok = tok, .ids_mode = true, .ids = &sink};
    walk(&o, msgs, n_msgs, add_gen, cont);
    free(o.text);
    if (o.st == TLM_ERR_FORMAT)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "chat: the tokenizer has no BOS or EOS token, "
                        "which template %s needs",
                        tlm_chat_template_name(t));
    if (o.st != TLM_OK) return tlm_fail(err, o.st, "chat: could not encode the conversation");
    if (sink.n > INT32_MAX) return tlm_fail(err, TLM_ERR_ARG, "chat: conversation too long");
    *n_out = (int32_t)sink.n;
    if (sink.n > cap)
        return tlm_fail(err, TLM_ERR_BUFFER_TOO_SMALL,
                        "chat: the conversation needs %d ids; the "
                        "buffer has %d",
                        (int)sink.n, (int)cap);
    return TLM_OK;
}

TLM_API tlm_status tlm_chat_tokenize(tlm_chat_template t, const tlm_tokenizer *tok,
                                     const tlm_chat_message *msgs, int32_t n_msgs,
                                     bool add_generation_prompt, int32_t *ids, int32_t cap,
                                     int32_t *n_out, tlm_error *err)
{
    return tokenize(t, tok, msgs, n_msgs, add_generation_prompt, false, ids, cap, n_out, err);
}

TLM_API tlm_status tlm_chat_tokenize_continue(tlm_chat_template t, const tlm_tokenizer *tok,
                                              const tlm_chat_message *msgs, int32_t n_msgs,
                                              int32_t *ids, int32_t cap, int32_t *n_out,
                                              tlm_error *err)
{
    return tokenize(t, tok, msgs, n_msgs, true, true, ids, cap, n_out, err);
}

TLM_API bool tlm_chat_is_stop(tlm_chat_template t, const tlm_tokenizer *tok, int32_t id)
{
    const tmpl *tp = get(t);
    if (!tok || id < 0 || id >= tok->n_vocab) return false;
    if (id == tok->eos) return true;
    if (!tp || (tok->types[id] != TLM_TOK_CONTROL && tok->types[id] != TLM_TOK_USER_DEFINED))
        return false;
    const char *p = tok->text + tok->text_off[id];
    size_t n = tok->text_off[id + 1] - tok->text_off[id];
    for (int i = 0; i < 3 && tp->stops[i]; i++)
        if (strlen(tp->stops[i]) == n && memcmp(tp->stops[i], p, n) == 0) return true;
    return false;
}
