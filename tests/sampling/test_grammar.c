/* test_grammar.c - GBNF parsing (errors with line and column, every construct), the
 * matcher on hand-worked strings, and the token mask against a brute-force reference
 * (each token's text matched from scratch after the accepted text) on tok512.bin, with
 * UTF-8 split across byte tokens and EOS only where the grammar can end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar_sampler.h"
#include "harness.h"
#include "tinylm.h"

#include <sys/stat.h>

static const char *shared_path(const char *rel)
{
    static char buf[1024];
    const char *dir = getenv("TLM_SHARED");
    snprintf(buf, sizeof buf, "%s/%s", dir && *dir ? dir : "../shared", rel);
    return buf;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static tlm_grammar *parse_ok(const char *text)
{
    tlm_grammar *g = NULL;
    tlm_error err = {0};
    tlm_status st = tlm_grammar_parse(text, NULL, &g, &err);
    CHECK(st == TLM_OK && g, "parses: %.60s (%s)", text, err.message);
    return g;
}

/* Expects text to fail with a message containing want. */
static void parse_bad(const char *text, const char *want)
{
    tlm_grammar *g = NULL;
    tlm_error err = {0};
    tlm_status st = tlm_grammar_parse(text, NULL, &g, &err);
    CHECK(st == TLM_ERR_FORMAT && !g && strstr(err.message, want),
          "rejects %.40s with '%s' (got %d '%s')", text, want, (int)st, err.message);
    tlm_grammar_free(g);
}

/* prefix/complete expectations: 'c' complete, 'p' prefix only, 'n' neither */
static void match(const tlm_grammar *g, const char *text, char want)
{
    bool prefix = false, complete = false;
    tlm_status st = tlm_grammar_match(g, text, strlen(text), &prefix, &complete, NULL);
    char got = complete ? 'c' : prefix ? 'p' : 'n';
    CHECK(st == TLM_OK && got == want, "'%s': want %c got %c", text, want, got);
}

static void test_errors(void)
{
    parse_bad("root ::= \"abc", "line 1, column 10: unterminated string");
    parse_bad("root ::= x\n", "line 1, column 10: undefined rule 'x'");
    parse_bad("# c\nroot ::= [a-\n", "line 2, column 10: unterminated character class");
    parse_bad("root ::= \"a\"\nroot ::= \"b\"\n", "line 2, column 1: rule 'root' is defined twice");
    parse_bad("root = \"a\"", "line 1, column 6: expected '::='");
    parse_bad("root ::= (\"a\" | \"b\"\n", "expected ')'");
    parse_bad("root ::= \"a\" )", "line 1, column 14: unexpected ')'");
    parse_bad("root ::= \"\\q\"", "line 1, column 11: unknown escape '\\q'");
    parse_bad("root ::= \"\\x4\"", "expected 2 hex digits");
    parse_bad("root ::= [z-a]", "backwards");
    parse_bad("root ::= []", "empty character class");
    parse_bad("root ::= \"a\"{3,1}", "max below min");
    parse_bad("root ::= \"a\"{200000}", "repetition count over");
    parse_bad("root ::= \"a\"{2", "expected ',' or '}'");
    parse_bad("root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\"\n", "'expr' is left-recursive");
    parse_bad("root ::= a\na ::= b? a \"x\"\nb ::= \"y\"\n", "left-recursive");
    {
        tlm_grammar *g = NULL;
        tlm_error err = {0};
        tlm_status st = tlm_grammar_parse("a ::= \"x\"\n", NULL, &g, &err);
        CHECK(st == TLM_ERR_FORMAT && strstr(err.message, "no rule named 'root'"),
              "a missing root is named (%s)", err.message);
    }
    parse_bad("", "no rules");
    parse_bad("root ::= \"\\U00110000\"", "past U+10FFFF");
    parse_bad("root ::= \"a\" @", "line 1, column 14: unexpected '@'");
    /* deep nesting is refused, not a stack overflow */
    char deep[4000];
    strcpy(deep, "root ::= ");
    for (int i = 0; i < 1000; i++)
        strcat(deep, "(");
    parse_bad(deep, "nested over");
    tlm_grammar *g = NULL;
    CHECK(tlm_grammar_parse(NULL, NULL, &g, NULL) == TLM_ERR_ARG, "NULL text");
}

static void test_matcher(void)
{
    tlm_grammar *g = parse_ok("root ::= \"ab\" | \"a\" [0-9]+ \"z\"?\n");
    if (g) {
        match(g, "ab", 'c');
        match(g, "a", 'p');
        match(g, "a1", 'c');
        match(g, "a123z", 'c');
        match(g, "a123zz", 'n');
        match(g, "abc", 'n');
        match(g, "", 'p');
        match(g, "b", 'n');
    }
    tlm_grammar_free(g);

    /* repetition counts: {2,4}, {3}, {2,} */
    g = parse_ok("root ::= x{2,4} \"-\" y{3} \"-\" z{2,}\nx ::= \"x\"\ny ::= [y]\nz ::= \"z\"");
    if (g) {
        match(g, "xx-yyy-zz", 'c');
        match(g, "xxxx-yyy-zzzzz", 'c');
        match(g, "x-yyy-zz", 'n');
        match(g, "xxxxx", 'n');
        match(g, "xx-yy-", 'n');
        match(g, "xx-yyy-z", 'p');
    }
    tlm_grammar_free(g);

    /* classes: negation, ranges, escapes, any, UTF-8 */
    g = parse_ok("root ::= [^|\\\\\\x00-\\x1f]* \"|\" [\\u00e0-\\u00ff\\t] . \"\\U0001F600\"\n");
    if (g) {
        match(g, "hello|\xc3\xa9x\xf0\x9f\x98\x80", 'c'); /* é, then any, then 😀 */
        match(g, "he\\llo|", 'n');                        /* backslash excluded */
        match(g, "a\x01", 'n');                           /* control excluded */
        match(g, "|\t\xe2\x82\xac\xf0\x9f\x98\x80", 'c'); /* tab, then € as any */
        match(g, "|A", 'n');                              /* A not in [à-ÿ\t] */
        match(g, "|\xc3", 'p');                           /* half of é: may still go */
        match(g, "|\xc2", 'n');                           /* U+0080..U+00BF: none fit */
        match(g, "\xc3\xa9\xc3", 'p');                    /* UTF-8 in the negated run */
        match(g, "\xff", 'n');                            /* not UTF-8 */
        match(g, "\xc1\xbb", 'n');                        /* overlong '{' */
        match(g, "\xe0\x80", 'n');                        /* overlong, unfinished */
        match(g, "\xed\xa0\x80", 'n');                    /* a surrogate */
        match(g, "\xf4\x90\x80\x80", 'n');                /* past U+10FFFF */
    }
    tlm_grammar_free(g);

    /* groups, nesting, comments, line continuation, nullable rules, right recursion */
    g = parse_ok("# a list\nroot ::= \"[\" ws ( item ( \",\" ws item )* )? \"]\"  # tail\n"
                 "item ::= num | \"(\" ws root ws \")\"\n"
                 "num ::= \"-\"? ([0-9] | [1-9] [0-9]+)\n"
                 "ws ::= (\" \" ws)?\n");
    if (g) {
        match(g, "[]", 'c');
        match(g, "[ 1, 22,-3]", 'c');
        match(g, "[(  [1])]", 'c');
        match(g, "[01]", 'n');
        match(g, "[1,]", 'n');
        match(g, "[1,", 'p');
    }
    tlm_grammar_free(g);

    /* another root name */
    tlm_grammar *g2 = NULL;
    CHECK(tlm_grammar_parse("a ::= \"x\" b\nb ::= \"y\"\n", "b", &g2, NULL) == TLM_OK, "root b");
    if (g2) {
        match(g2, "y", 'c');
        match(g2, "xy", 'n');
    }
    tlm_grammar_free(g2);
}

/* Grammars in the style of llama.cpp's grammars/ folder (written here, not copied). */
static void test_styles(void)
{
    const char *texts[] = {
        /* json-like, multi-line rules with continuation inside parentheses */
        "root   ::= object\n"
        "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n\n"
        "object ::=\n  \"{\" ws (\n            string \":\" ws value\n"
        "    (\",\" ws string \":\" ws value)*\n  )? \"}\" ws\n\n"
        "array  ::=\n  \"[\" ws (\n            value\n    (\",\" ws value)*\n  )? \"]\" ws\n\n"
        "string ::=\n  \"\\\"\" (\n    [^\"\\\\\\x7F\\x00-\\x1F] |\n"
        "    \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) # escapes\n  )* \"\\\"\" ws\n\n"
        "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] "
        "[1-9]{0,15})? ws\n"
        "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n",
        /* arithmetic with precedence through right-recursive repetition */
        "root  ::= (expr \"=\" ws term \"\\n\")+\nexpr  ::= term ([-+*/] term)*\n"
        "term  ::= ident | num | \"(\" ws expr \")\" ws\nident ::= [a-z] [a-z0-9_]* ws\n"
        "num   ::= [0-9]+ ws\nws    ::= [ \\t\\n]*\n",
        /* a list of items, CRLF line ends, a dash in a class */
        "root ::= item+\r\n\r\n# Excludes various line break characters\r\n"
        "item ::= \"- \" [^\\r\\n\\x0b\\x0c\\x85\\u2028\\u2029]+ \"\\n\"\r\n",
        /* chess-like: {m} counts and '.' */
        "root ::= \"1. \" move \" \" move \"\\n\" ([1-9] [0-9]? \". \" move \" \" move \"\\n\")+\n"
        "move ::= (pawn | nonpawn | castle) [+#]?\npawn ::= [a-h] [1-8]\n"
        "nonpawn ::= [NBKQR] [a-h]? [1-8]? \"x\"? [a-h] [1-8]\ncastle ::= \"O-O\" \"-O\"?\n",
    };
    for (size_t i = 0; i < COUNT(texts); i++) {
        tlm_grammar *g = parse_ok(texts[i]);
        if (i == 0 && g) {
            match(g, "{\"a\": [1, -2.5e3, \"x\\u00e9\\n\"], \"b\": {\"c\": null}}", 'c');
            match(g, "{\"a\": tru", 'p');
            match(g, "{\"a\": 01}", 'n');
        }
        if (i == 2 && g) {
            match(g, "- a\n- b c\n", 'c');
            match(g, "- \n", 'n');
        }
        tlm_grammar_free(g);
    }
}

/* ---- the token mask against brute force ---------------------------------------------- */

static void check_mask(tlm_sampler *s, const tlm_grammar *g, const tlm_tokenizer *tok,
                       const char *so_far, size_t n_so_far, const char *label)
{
    int32_t n_vocab = tlm_tokenizer_n_vocab(tok);
    uint8_t *allowed = malloc((size_t)n_vocab);
    char *buf = malloc(n_so_far + 4096);
    int32_t n = tlm_sampler_grammar_mask(s, allowed);
    int bad = 0, n_ref = 0;
    bool end_ok = false;
    tlm_grammar_match(g, so_far, n_so_far, NULL, &end_ok, NULL);
    for (int32_t id = 0; id < n_vocab; id++) {
        size_t len = 0;
        const char *p = tlm_token_piece(tok, -1, id, &len);
        bool want;
        if (id == tlm_tokenizer_eos(tok)) {
            want = end_ok;
        } else if (len == 0) {
            want = false;
        } else {
            memcpy(buf, so_far, n_so_far);
            memcpy(buf + n_so_far, p, len);
            tlm_grammar_match(g, buf, n_so_far + len, &want, NULL, NULL);
        }
        n_ref += want;
        if (want != (allowed[id] != 0) && bad++ < 3)
            printf("  %s: id %d '%.*s' mask %d brute force %d\n", label, (int)id, (int)len, p,
                   allowed[id], want);
    }
    CHECK(bad == 0 && n == n_ref, "%s: mask equals brute force (%d ids, %d differ)", label,
          (int)n_ref, bad);
    free(allowed);
    free(buf);
}

/* ../shared's tok512 vocabulary, or NULL after counting why (a missing file, a load error). */
static tlm_tokenizer *load_tok512(void)
{
    const char *tok_path = shared_path("models/tok512.bin");
    if (!exists(tok_path)) {
        MISSING(1, "models/tok512.bin under ../shared");
        return NULL;
    }
    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    if (tlm_tokenizer_load_llama2c(tok_path, 512, &tok, &err) != TLM_OK) {
        CHECK(false, "load tok512: %s", err.message);
        return NULL;
    }
    return tok;
}

static void test_mask(void)
{
    tlm_tokenizer *tok = load_tok512();
    if (!tok) return;
    tlm_error err = {0};
    tlm_grammar_vocab *v = NULL;
    CHECK(tlm_grammar_vocab_create(tok, &v, &err) == TLM_OK, "vocab: %s", err.message);
    /* a multi-token literal, a word class, and é / 😀 (only reachable by byte tokens) */
    tlm_grammar *g =
        parse_ok("root ::= \"Once upon a time\" [ a-z]* (\"\\u00e9\" | \"\\U0001F600\")"
                 " \".\"\n");
    tlm_sampler_params sp = tlm_sampler_default_params();
    tlm_sampler *s = NULL;
    tlm_sampler_create(&sp, 512, &s, NULL);
    if (!v || !g || !s) goto done;
    CHECK(tlm_sampler_set_grammar(s, g, v, &err) == TLM_OK, "set grammar");
    check_mask(s, g, tok, "", 0, "start");
    /* walk the literal token by token as the sampler would, checking the mask each time */
    char text[256] = "";
    size_t n_text = 0;
    float logits[512];
    rng_seed(7);
    int steps = 0;
    bool ended = false;
    for (; steps < 60 && !ended; steps++) {
        for (int i = 0; i < 512; i++)
            logits[i] = rng_float(-3, 3);
        int32_t id = tlm_sampler_sample(s, logits);
        if (id < 0 || id == tlm_tokenizer_eos(tok)) {
            ended = id >= 0;
            break;
        }
        size_t len = 0;
        const char *p = tlm_token_piece(tok, -1, id, &len);
        CHECK(tlm_sampler_grammar_accept(s, id, NULL) == TLM_OK, "accept sampled id %d", id);
        if (n_text + len >= sizeof text) break;
        memcpy(text + n_text, p, len);
        n_text += len;
        if (steps % 5 == 0 || (len && ((unsigned char)p[len - 1] & 0x80))) {
            char label[64];
            snprintf(label, sizeof label, "after %d tokens", steps + 1);
            check_mask(s, g, tok, text, n_text, label);
        }
        if (n_text > 100) { /* steer to the end: only the class run could go on */
            const char *tail = "\xc3\xa9.";
            int32_t ids[8], nid = 0;
            tlm_tokenize(tok, tail, false, ids, 8, &nid);
            for (int32_t k = 0; k < nid; k++) {
                size_t l2 = 0;
                const char *q = tlm_token_piece(tok, -1, ids[k], &l2);
                CHECK(tlm_sampler_grammar_accept(s, ids[k], NULL) == TLM_OK, "forced id %d",
                      (int)ids[k]);
                memcpy(text + n_text, q, l2);
                n_text += l2;
                if (k + 1 < nid) check_mask(s, g, tok, text, n_text, "mid character");
            }
        }
    }
    bool complete = false;
    tlm_grammar_match(g, text, n_text, NULL, &complete, NULL);
    CHECK(complete && tlm_sampler_grammar_can_end(s), "generation '%.*s' is complete", (int)n_text,
          text);
    check_mask(s, g, tok, text, n_text, "at the end");
    CHECK(tlm_sampler_grammar_accept(s, 300, NULL) == TLM_ERR_ARG, "a disallowed id is refused");
    tlm_sampler_reset(s);
    CHECK(!tlm_sampler_grammar_can_end(s), "reset restarts the grammar");
    check_mask(s, g, tok, "", 0, "after reset");
done:
    tlm_sampler_free(s);
    tlm_grammar_free(g);
    tlm_grammar_vocab_free(v);
    tlm_tokenizer_free(tok);
}

/* The sampler keeps an unconstrained draw the grammar allows (no truncation): its draws
 * must follow the masked distribution tlm_sampler_probs reports (computed with the mask). */
static void test_fast_path(void)
{
    const char *tok_path = shared_path("models/tok512.bin");
    if (!exists(tok_path)) {
        MISSING(1, "models/tok512.bin under ../shared");
        return;
    }
    tlm_tokenizer *tok = NULL;
    tlm_grammar_vocab *v = NULL;
    tlm_grammar *g = parse_ok("root ::= [a-f] [a-z]*\n");
    if (tlm_tokenizer_load_llama2c(tok_path, 512, &tok, NULL) != TLM_OK || !g ||
        tlm_grammar_vocab_create(tok, &v, NULL) != TLM_OK) {
        CHECK(false, "setup");
        goto done;
    }
    float logits[512], probs[512];
    rng_seed(11);
    for (int i = 0; i < 512; i++)
        logits[i] = rng_float(-2, 2);
    for (int temp = 0; temp < 2; temp++) {
        tlm_sampler_params sp = tlm_sampler_default_params();
        sp.temperature = temp ? 1.0f : 0.0f;
        sp.seed = 5;
        tlm_sampler *s = NULL;
        tlm_sampler_create(&sp, 512, &s, NULL);
        tlm_sampler_set_grammar(s, g, v, NULL);
        tlm_sampler_probs(s, logits, probs);
        static int counts[512];
        memset(counts, 0, sizeof counts);
        int n = temp ? 40000 : 50, refused = 0;
        for (int k = 0; k < n; k++) {
            int32_t id = tlm_sampler_sample(s, logits);
            if (id < 0 || probs[id] == 0.0f)
                refused++;
            else
                counts[id]++;
        }
        double worst = 0.0;
        for (int i = 0; i < 512; i++) {
            double f = (double)counts[i] / n, sd = sqrt(probs[i] * (1.0 - probs[i]) / n);
            double z = sd > 0 ? fabs(f - probs[i]) / sd : fabs(f - probs[i]) * 1e9;
            worst = z > worst ? z : worst;
        }
        CHECK(refused == 0 && worst < 5.0,
              "T=%d: draws follow the masked distribution "
              "(%d outside it, worst deviation %.1f sd)",
              temp, refused, worst);
        tlm_sampler_free(s);
    }
done:
    tlm_grammar_free(g);
    tlm_grammar_vocab_free(v);
    tlm_tokenizer_free(tok);
}

/* ---- the cache of recent states' masks ------------------------------------------------ */

/* A generation through a grammar that keeps returning to the same states (a string's
 * characters, a number's digits): the sampler's mask, cached or not, must equal the mask a
 * fresh sampler (empty cache) computes after the same tokens, at every step; and the cache
 * must have answered some of them, or this test shows nothing. */
static void test_mask_cache(void)
{
    tlm_tokenizer *tok = load_tok512();
    if (!tok) return;
    tlm_error err = {0};
    tlm_grammar_vocab *v = NULL;
    tlm_grammar_vocab_create(tok, &v, &err);
    tlm_grammar *g = parse_ok("root ::= (\"{\\\"\" [a-z ]* \"\\\": \" [0-9]+ \"}\" [ ]?)+\n");
    tlm_gsampler *gs = NULL;
    if (!v || !g || tlm_gsampler_create(g, v, 512, &gs, &err) != TLM_OK) {
        CHECK(false, "cache test setup: %s", err.message);
        goto done;
    }
    int32_t hist[80], n_hist = 0, differ = 0, steps = 0;
    rng_seed(5);
    for (; steps < 80; steps++) {
        int32_t n = tlm_gsampler_mask(gs);
        tlm_gsampler *fresh = NULL;
        tlm_gsampler_create(g, v, 512, &fresh, NULL);
        for (int32_t k = 0; fresh && k < n_hist; k++)
            tlm_gsampler_accept(fresh, hist[k]);
        int32_t n_fresh = fresh ? tlm_gsampler_mask(fresh) : -1;
        if (!fresh || n != n_fresh ||
            memcmp(tlm_gsampler_allowed(gs), tlm_gsampler_allowed(fresh), 512) != 0)
            differ++;
        tlm_gsampler_free(fresh);
        if (n == 0) break;
        int32_t pick = (int32_t)(rng_float(0, 1) * (float)n), id = -1;
        for (int32_t t = 0; t < 512 && id < 0; t++)
            if (tlm_gsampler_allowed(gs)[t] && pick-- == 0) id = t;
        if (id < 0 || id == tlm_tokenizer_eos(tok) || !tlm_gsampler_accept(gs, id)) break;
        hist[n_hist++] = id;
    }
    CHECK(differ == 0, "mask cache: %d of %d masks differ from a fresh sampler's", differ, steps);
    CHECK(steps >= 40, "mask cache: the generation stopped after %d steps", steps);
    CHECK(tlm_gsampler_cache_hits(gs) > 0, "mask cache: no mask came from the cache in %d steps",
          steps);
    printf("  mask cache: %lld of %d masks from the cache\n",
           (long long)tlm_gsampler_cache_hits(gs), steps);
done:
    tlm_gsampler_free(gs);
    tlm_grammar_free(g);
    tlm_grammar_vocab_free(v);
    tlm_tokenizer_free(tok);
}

int main(void)
{
    test_errors();
    test_matcher();
    test_styles();
    test_mask();
    test_mask_cache();
    test_fast_path();
    return finish("grammar");
}
