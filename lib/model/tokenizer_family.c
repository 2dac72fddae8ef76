/* tokenizer_family.c - tlm_tokenizer_load, and the tokenizer rules a family's own files
 * declare but a GGUF file cannot carry. GGUF has no lstrip/rstrip flags: Phi-3's
 * tokenizer.json gives its role and placeholder tokens rstrip, and the model was trained on
 * ids split that way, so a Phi-3 GGUF vocabulary gets the rule from the family's row
 * (arch.c) - as llama.cpp does, though it keys on general.name. The tokenizer layer reads the
 * file; this layer, which may know family names, adds the rule. */
#include "arch.h"
#include "tokenizer.h"

void tlm_arch_tokenizer_rules(tlm_tokenizer *tok)
{
    if (!tok || !tok->gguf_arch[0]) return;
    const tlm_arch *a = tlm_arch_by_gguf(tok->gguf_arch);
    if (a && a->rstrip_added_except) tlm_tok_rstrip_added(tok, a->rstrip_added_except);
}

TLM_API tlm_status tlm_tokenizer_load(const char *path, tlm_tokenizer **out, tlm_error *err)
{
    tlm_status st = tlm_tok_open(path, out, err);
    if (st == TLM_OK) tlm_arch_tokenizer_rules(*out);
    return st;
}
