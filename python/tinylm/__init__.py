"""tinylm - Python binding of libtinylm (ctypes over libtinylm.so; no compiler needed).

    import tinylm
    with tinylm.Model("stories260K.bin", tokenizer="tok512.bin") as m:
        print("".join(m.generate("Once upon a time", 50)))
        rows = m.logits([1, 403, 407])            # numpy [3][n_vocab] if numpy is installed

The library is found through the TINYLM_LIBRARY environment variable (a path to
libtinylm.so), then a libtinylm.so next to this package, then ctypes.util.find_library.
Every failure raises tinylm.Error carrying the library's message and status. Generation uses
the library's sampler (tlm_sampler_*) and its UTF-8-safe stream decoder (tlm_detok_*), so a
piece never ends inside a character; chat uses the library's templates (tlm_chat_*).
A Model is used by one thread at a time, like the C objects it holds.
"""
import ctypes
import ctypes.util
import os

__all__ = ["Error", "Model", "Tokenizer", "library"]

try:
    import numpy as _np
except ImportError:  # numpy is optional: lists are returned instead
    _np = None

TLM_OK = 0
TLM_ERR_CANCELLED = 7
TLM_ERR_BUFFER_TOO_SMALL = 8
_TYPE_F32 = 0


class Error(Exception):
    """A libtinylm call failed: str(e) is the library's message, e.status its tlm_status."""

    def __init__(self, message, status=0):
        super().__init__(message)
        self.status = status


# ---- the C declarations this module uses (include/tinylm.h) -------------------------------

class _Error(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * 256)]


class _ModelInfo(ctypes.Structure):
    _fields_ = [("arch", ctypes.c_char_p)] + [
        (n, ctypes.c_int32) for n in ("n_vocab", "n_ctx_train", "dim", "n_layers", "n_heads",
                                      "n_kv_heads", "head_dim", "hidden_dim",
                                      "n_layer_applications")] + [
        (n, ctypes.c_uint64) for n in ("n_params", "n_matrix_params", "weight_bytes",
                                       "kv_bytes_per_token")] + [
        ("bos_id", ctypes.c_int32), ("eos_id", ctypes.c_int32)]


class _ContextParams(ctypes.Structure):
    _fields_ = [("n_ctx", ctypes.c_int32), ("n_batch", ctypes.c_int32),
                ("n_threads", ctypes.c_int32), ("kv_type", ctypes.c_int),
                ("rope_factors", ctypes.c_int), ("ntk_alpha", ctypes.c_float),
                ("no_logn", ctypes.c_bool), ("full_cache", ctypes.c_bool),
                ("mem_budget", ctypes.c_uint64), ("blas", ctypes.c_bool)]


class _SamplerParams(ctypes.Structure):
    _fields_ = [("temperature", ctypes.c_float), ("top_k", ctypes.c_int32),
                ("top_p", ctypes.c_float), ("min_p", ctypes.c_float),
                ("repeat_penalty", ctypes.c_float), ("presence_penalty", ctypes.c_float),
                ("frequency_penalty", ctypes.c_float), ("repeat_last_n", ctypes.c_int32),
                ("logit_bias", ctypes.c_void_p), ("n_logit_bias", ctypes.c_int32),
                ("seed", ctypes.c_uint64)]


class _PresetParams(ctypes.Structure):
    _fields_ = [("weight_type", ctypes.c_int), ("seed", ctypes.c_uint64),
                ("n_threads", ctypes.c_int32), ("shape_only", ctypes.c_bool)]


class _ChatMessage(ctypes.Structure):
    _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]


_P = ctypes.c_void_p
_I32P = ctypes.POINTER(ctypes.c_int32)
_SIZEP = ctypes.POINTER(ctypes.c_size_t)
_ERRP = ctypes.POINTER(_Error)
_MSGP = ctypes.POINTER(_ChatMessage)
_FLOATP = ctypes.POINTER(ctypes.c_float)
_S = ctypes.c_int  # tlm_status

_SIGNATURES = {
    "tlm_version_number": (ctypes.c_uint, []),
    "tlm_status_string": (ctypes.c_char_p, [_S]),
    "tlm_model_load": (_S, [ctypes.c_char_p, _P, ctypes.POINTER(_P), _ERRP]),
    "tlm_preset_default_params": (_PresetParams, []),
    "tlm_model_load_preset": (_S, [ctypes.c_char_p, ctypes.POINTER(_PresetParams),
                                   ctypes.POINTER(_P), _ERRP]),
    "tlm_model_free": (None, [_P]),
    "tlm_model_get_info": (ctypes.POINTER(_ModelInfo), [_P]),
    "tlm_model_n_embd": (ctypes.c_int32, [_P]),
    "tlm_context_default_params": (_ContextParams, []),
    "tlm_context_create": (_S, [_P, ctypes.POINTER(_ContextParams), ctypes.POINTER(_P), _ERRP]),
    "tlm_context_free": (None, [_P]),
    "tlm_context_eval": (_S, [_P, _I32P, ctypes.c_int32, _FLOATP]),
    "tlm_context_logits": (_FLOATP, [_P]),
    "tlm_context_error": (ctypes.c_char_p, [_P]),
    "tlm_tokenizer_load": (_S, [ctypes.c_char_p, ctypes.POINTER(_P), _ERRP]),
    "tlm_tokenizer_from_model": (_S, [_P, ctypes.POINTER(_P), _ERRP]),
    "tlm_tokenizer_load_llama2c": (_S, [ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(_P),
                                        _ERRP]),
    "tlm_tokenizer_free": (None, [_P]),
    "tlm_tokenize": (_S, [_P, ctypes.c_char_p, ctypes.c_bool, _I32P, ctypes.c_int32, _I32P]),
    "tlm_tokenize_special": (_S, [_P, ctypes.c_char_p, ctypes.c_bool, _I32P, ctypes.c_int32,
                                  _I32P]),
    "tlm_tokenizer_bos": (ctypes.c_int32, [_P]),
    "tlm_tokenizer_eos": (ctypes.c_int32, [_P]),
    "tlm_tokenizer_n_vocab": (ctypes.c_int32, [_P]),
    "tlm_tokenizer_adds_bos": (ctypes.c_bool, [_P]),
    "tlm_tokenizer_chat_template": (ctypes.c_char_p, [_P]),
    "tlm_detok_create": (_S, [_P, ctypes.POINTER(_P)]),
    "tlm_detok_free": (None, [_P]),
    "tlm_detok_reset": (None, [_P, ctypes.c_int32]),
    "tlm_detok_push": (ctypes.c_void_p, [_P, ctypes.c_int32, _SIZEP]),
    "tlm_detok_flush": (ctypes.c_void_p, [_P, _SIZEP]),
    "tlm_chat_template_from_name": (ctypes.c_int, [ctypes.c_char_p]),
    "tlm_chat_template_name": (ctypes.c_char_p, [ctypes.c_int]),
    "tlm_chat_template_detect": (_S, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), _ERRP]),
    "tlm_chat_render": (_S, [ctypes.c_int, _P, _MSGP, ctypes.c_int32, ctypes.c_bool,
                             ctypes.c_char_p, ctypes.c_size_t, _SIZEP, _ERRP]),
    "tlm_chat_tokenize": (_S, [ctypes.c_int, _P, _MSGP, ctypes.c_int32, ctypes.c_bool, _I32P,
                               ctypes.c_int32, _I32P, _ERRP]),
    "tlm_chat_is_stop": (ctypes.c_bool, [ctypes.c_int, _P, ctypes.c_int32]),
    "tlm_sampler_default_params": (_SamplerParams, []),
    "tlm_sampler_create": (_S, [ctypes.POINTER(_SamplerParams), ctypes.c_int32,
                                ctypes.POINTER(_P), _ERRP]),
    "tlm_sampler_free": (None, [_P]),
    "tlm_sampler_sample": (ctypes.c_int32, [_P, _FLOATP]),
    "tlm_sampler_accept": (None, [_P, ctypes.c_int32]),
}

_lib = None


def _find_library():
    env = os.environ.get("TINYLM_LIBRARY")
    if env:
        return env
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libtinylm.so")
    if os.path.exists(here):
        return here
    return ctypes.util.find_library("tinylm")


def library():
    """The loaded libtinylm (ctypes.CDLL), loaded and declared on first use."""
    global _lib
    if _lib is None:
        path = _find_library()
        if not path:
            raise Error("libtinylm not found: set TINYLM_LIBRARY to the path of libtinylm.so")
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise Error("cannot load %s: %s" % (path, e)) from None
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        _lib = lib
    return _lib


def _status_text(status):
    return library().tlm_status_string(status).decode("utf-8", "replace")


def _raise(err, what=None):
    msg = err.message.decode("utf-8", "replace") or _status_text(err.status)
    raise Error("%s: %s" % (what, msg) if what else msg, err.status)


def _check(status, err, what=None):
    if status != TLM_OK:
        if err is not None and err.status == TLM_OK:
            err.status = status
        _raise(err if err is not None else _Error(status, b""), what)


def _fspath(path):
    return os.fsencode(os.fspath(path))


def _ids_array(tokens):
    tokens = [int(t) for t in tokens]
    return (ctypes.c_int32 * max(1, len(tokens)))(*tokens), len(tokens)


def _messages(messages):
    """[{"role": ..., "content": ...}] or [(role, content)] as tlm_chat_message[]."""
    pairs = [(m["role"], m["content"]) if isinstance(m, dict) else tuple(m) for m in messages]
    arr = (_ChatMessage * max(1, len(pairs)))()
    keep = []  # the bytes objects must live as long as arr is used
    for i, (role, content) in enumerate(pairs):
        r, c = role.encode("utf-8"), content.encode("utf-8")
        keep += [r, c]
        arr[i].role, arr[i].content = r, c
    return arr, len(pairs), keep


# ---- tokenizer ------------------------------------------------------------------------------

class Tokenizer:
    """A vocabulary: Tokenizer(path) for a tokenizer file or directory (a llama2.c
    tokenizer.bin needs n_vocab), or Model.tokenizer for the model's own."""

    def __init__(self, path=None, n_vocab=None, _handle=None, _owner=None):
        lib = library()
        self._owner = _owner  # a Model whose lifetime the handle shares, if any
        if _handle is not None:
            self._h = _handle
            return
        err, h = _Error(), _P()
        p = _fspath(path)
        if n_vocab is not None or p.endswith(b".bin"):
            if n_vocab is None:
                raise Error("%s: a llama2.c tokenizer.bin needs n_vocab" % os.fsdecode(p),
                            5)
            st = lib.tlm_tokenizer_load_llama2c(p, int(n_vocab), ctypes.byref(h), err)
        else:
            st = lib.tlm_tokenizer_load(p, ctypes.byref(h), err)
        _check(st, err)
        self._h = h

    def close(self):
        if self._h and self._owner is None:
            library().tlm_tokenizer_free(self._h)
        self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _handle(self):
        if not self._h:
            raise Error("the tokenizer is closed")
        return self._h

    @property
    def bos(self):
        return library().tlm_tokenizer_bos(self._handle())

    @property
    def eos(self):
        return library().tlm_tokenizer_eos(self._handle())

    @property
    def n_vocab(self):
        return library().tlm_tokenizer_n_vocab(self._handle())

    @property
    def adds_bos(self):
        return bool(library().tlm_tokenizer_adds_bos(self._handle()))

    def tokenize(self, text, add_bos=False, special=False):
        """Ids of UTF-8 text; special=True lets control-token texts become those tokens
        (trusted text only)."""
        lib = library()
        fn = lib.tlm_tokenize_special if special else lib.tlm_tokenize
        data = text.encode("utf-8")
        n = ctypes.c_int32(0)
        st = fn(self._handle(), data, bool(add_bos), None, 0, ctypes.byref(n))
        if st not in (TLM_OK, TLM_ERR_BUFFER_TOO_SMALL):
            raise Error("tokenize: " + _status_text(st), st)
        ids = (ctypes.c_int32 * max(1, n.value))()
        st = fn(self._handle(), data, bool(add_bos), ids, n.value, ctypes.byref(n))
        if st != TLM_OK:
            raise Error("tokenize: " + _status_text(st), st)
        return list(ids[:n.value])

    def detokenize(self, ids, prev=-1):
        """The text of ids (ill-formed UTF-8 becomes U+FFFD), through the stream decoder."""
        return "".join(self._stream(ids, prev))

    def _stream(self, ids, prev=-1):
        with _Detok(self) as d:
            d.reset(prev)
            for i in ids:
                yield d.push(i)
            yield d.flush()

    def _template(self, template):
        """A tlm_chat_template value: a name ("zephyr", "chatml", ...) or, with None, the
        template the vocabulary's files carry."""
        lib = library()
        if template is not None:
            t = lib.tlm_chat_template_from_name(template.encode("utf-8"))
            if t == 0:
                raise Error("no chat template named '%s'" % template, 5)
            return t
        jinja = lib.tlm_tokenizer_chat_template(self._handle())
        if not jinja:
            raise Error("the vocabulary carries no chat template; name one with template=", 3)
        t, err = ctypes.c_int(0), _Error()
        _check(lib.tlm_chat_template_detect(jinja, ctypes.byref(t), err), err)
        return t.value

    def chat_render(self, messages, template=None, add_generation_prompt=True):
        """The conversation as the template's text (tlm_chat_render). messages: dicts with
        "role" and "content", or (role, content) pairs."""
        lib = library()
        t = self._template(template)
        arr, n, _keep = _messages(messages)
        size, err = ctypes.c_size_t(0), _Error()
        st = lib.tlm_chat_render(t, self._handle(), arr, n, bool(add_generation_prompt), None, 0,
                                 ctypes.byref(size), err)
        if st not in (TLM_OK, TLM_ERR_BUFFER_TOO_SMALL):
            _check(st, err)
        buf = ctypes.create_string_buffer(size.value + 1)
        err = _Error()
        _check(lib.tlm_chat_render(t, self._handle(), arr, n, bool(add_generation_prompt), buf,
                                   size.value + 1, ctypes.byref(size), err), err)
        return buf.raw[:size.value].decode("utf-8", "replace")

    def chat_tokenize(self, messages, template=None, add_generation_prompt=True):
        """The conversation as ids (tlm_chat_tokenize): markers are special tokens, contents
        ordinary text."""
        lib = library()
        t = self._template(template)
        arr, n, _keep = _messages(messages)
        count, err = ctypes.c_int32(0), _Error()
        st = lib.tlm_chat_tokenize(t, self._handle(), arr, n, bool(add_generation_prompt), None,
                                   0, ctypes.byref(count), err)
        if st not in (TLM_OK, TLM_ERR_BUFFER_TOO_SMALL):
            _check(st, err)
        ids = (ctypes.c_int32 * max(1, count.value))()
        err = _Error()
        _check(lib.tlm_chat_tokenize(t, self._handle(), arr, n, bool(add_generation_prompt), ids,
                                     count.value, ctypes.byref(count), err), err)
        return list(ids[:count.value])


class _Detok:
    """tlm_detok: text that never ends inside a UTF-8 character."""

    def __init__(self, tok):
        self._h = _P()
        st = library().tlm_detok_create(tok._handle(), ctypes.byref(self._h))
        if st != TLM_OK:
            raise Error("detokenizer: " + _status_text(st), st)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        library().tlm_detok_free(self._h)
        self._h = None

    def reset(self, prev):
        library().tlm_detok_reset(self._h, int(prev))

    @staticmethod
    def _text(ptr, n):
        return ctypes.string_at(ptr, n.value).decode("utf-8") if ptr and n.value else ""

    def push(self, token):
        n = ctypes.c_size_t(0)
        return self._text(library().tlm_detok_push(self._h, int(token), ctypes.byref(n)), n)

    def flush(self):
        n = ctypes.c_size_t(0)
        return self._text(library().tlm_detok_flush(self._h, ctypes.byref(n)), n)


# ---- model ----------------------------------------------------------------------------------

class _Context:
    """A tlm_context for one call; freed on exit."""

    def __init__(self, model, n_ctx=0, kv_type=None):
        lib = library()
        cp = lib.tlm_context_default_params()
        cp.n_ctx = int(n_ctx)
        if model.n_threads:
            cp.n_threads = model.n_threads
        if kv_type is not None:
            cp.kv_type = kv_type
        self._h, err = _P(), _Error()
        _check(lib.tlm_context_create(model._handle(), ctypes.byref(cp), ctypes.byref(self._h),
                                      err), err, "context")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        library().tlm_context_free(self._h)
        self._h = None

    def eval(self, ids, all_logits=None):
        arr, n = _ids_array(ids)
        st = library().tlm_context_eval(self._h, arr, n, all_logits)
        if st != TLM_OK:
            raise Error(library().tlm_context_error(self._h).decode("utf-8", "replace"), st)
        return st

    def logits(self):
        return library().tlm_context_logits(self._h)


class Model:
    """A loaded model (GGUF, llama2.c .bin or Hugging Face directory) and its tokenizer:
    the one stored in the model file, or `tokenizer` (a path, e.g. tok512.bin for a llama2.c
    model). Close it with close() or use it as a context manager."""

    def __init__(self, path, tokenizer=None, n_threads=0, _preset=None):
        lib = library()
        self.n_threads = int(n_threads)
        self._h, self._tok = None, None
        h, err = _P(), _Error()
        if _preset is not None:  # Model.preset(): seeded random weights, no tokenizer
            _check(lib.tlm_model_load_preset(_preset[0].encode("utf-8"), ctypes.byref(_preset[1]),
                                             ctypes.byref(h), err), err)
            self._h = h
            return
        _check(lib.tlm_model_load(_fspath(path), None, ctypes.byref(h), err), err)
        self._h = h
        try:
            if tokenizer is None:
                th, err = _P(), _Error()
                _check(lib.tlm_tokenizer_from_model(h, ctypes.byref(th), err), err, "tokenizer")
                self._tok = Tokenizer(_handle=th)
            elif isinstance(tokenizer, Tokenizer):
                self._tok = tokenizer
            else:
                self._tok = Tokenizer(tokenizer, n_vocab=self.n_vocab
                                      if _fspath(tokenizer).endswith(b".bin") else None)
        except Exception:
            self.close()
            raise

    @classmethod
    def preset(cls, name, seed=1, n_threads=0):
        """A built-in preset (one of the seven seed models' real shapes, e.g. "qwen-1.8b") with
        seeded F16 random weights, as tlm-generate --preset NAME --random-weights makes it. It
        has no tokenizer: use logits() and generate() with token ids."""
        pp = library().tlm_preset_default_params()
        pp.seed, pp.n_threads = int(seed), int(n_threads)
        return cls(None, n_threads=n_threads, _preset=(name, pp))

    def close(self):
        """Frees the model and the tokenizer it opened. Safe to call twice."""
        if self._tok is not None:
            self._tok.close()
            self._tok = None
        if self._h:
            library().tlm_model_free(self._h)
        self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _handle(self):
        if not self._h:
            raise Error("the model is closed")
        return self._h

    @property
    def info(self):
        """tlm_model_info as a dict (arch, n_vocab, n_ctx_train, dim, ...)."""
        i = library().tlm_model_get_info(self._handle()).contents
        d = {name: getattr(i, name) for name, _ in _ModelInfo._fields_}
        d["arch"] = d["arch"].decode("utf-8") if d["arch"] else ""
        return d

    @property
    def n_vocab(self):
        return library().tlm_model_get_info(self._handle()).contents.n_vocab

    @property
    def n_embd(self):
        return library().tlm_model_n_embd(self._handle())

    @property
    def tokenizer(self):
        if self._tok is None:
            raise Error("the model is closed" if not self._h else
                        "this model has no tokenizer (a preset: use token ids)")
        return self._tok

    def logits(self, tokens):
        """Every position's logits for tokens evaluated as one sequence (KV cache in F32, as
        tlm-logits): a numpy float32 array [n_tokens][n_vocab] when numpy is installed, else a
        list of lists."""
        tokens = list(tokens)
        n, v = len(tokens), self.n_vocab
        if n == 0:
            raise Error("logits: no tokens", 5)
        if _np is not None:
            out = _np.empty((n, v), dtype=_np.float32)
            buf = out.ctypes.data_as(_FLOATP)
        else:
            out = (ctypes.c_float * (n * v))()
            buf = ctypes.cast(out, _FLOATP)
        with _Context(self, n_ctx=n, kv_type=_TYPE_F32) as ctx:
            ctx.eval(tokens, buf)
        if _np is not None:
            return out
        return [list(out[r * v:(r + 1) * v]) for r in range(n)]

    def _sampler(self, temperature, seed):
        lib = library()
        sp = lib.tlm_sampler_default_params()
        sp.temperature, sp.seed = float(temperature), int(seed)
        h, err = _P(), _Error()
        _check(lib.tlm_sampler_create(ctypes.byref(sp), self.n_vocab, ctypes.byref(h), err), err,
               "sampler")
        return h

    def generate(self, prompt="", n=64, temperature=0.0, seed=0):
        """Yields the text of up to n generated tokens, piece by piece (never half a UTF-8
        character); stops at EOS or a full context. temperature 0: greedy. The prompt is not
        repeated. BOS starts the prompt when the vocabulary asks for it or the prompt is
        empty, as examples/generate.c does."""
        tok = self.tokenizer
        bos = tok.bos
        ids = tok.tokenize(prompt, add_bos=bos >= 0 and (tok.adds_bos or not prompt))
        if not ids:
            raise Error("generate: the prompt gives no tokens", 5)
        return self._generate(ids, n, temperature, seed)

    def _generate(self, ids, n, temperature, seed, stop=None):
        lib = library()
        eos = self.tokenizer.eos
        smp = self._sampler(temperature, seed)
        try:
            with _Context(self) as ctx, _Detok(self.tokenizer) as detok:
                detok.reset(ids[-1])
                ctx.eval(ids)
                for i in range(int(n)):
                    nxt = lib.tlm_sampler_sample(smp, ctx.logits())
                    lib.tlm_sampler_accept(smp, nxt)
                    if nxt == eos or (stop is not None and stop(nxt)):
                        break
                    piece = detok.push(nxt)
                    if piece:
                        yield piece
                    if i + 1 == n:
                        break
                    arr, _ = _ids_array([nxt])
                    st = lib.tlm_context_eval(ctx._h, arr, 1, None)
                    if st == 6:  # TLM_ERR_CONTEXT_FULL: the text ends here
                        break
                    if st != TLM_OK:
                        raise Error(lib.tlm_context_error(ctx._h).decode("utf-8", "replace"),
                                    st)
                rest = detok.flush()
                if rest:
                    yield rest
        finally:
            lib.tlm_sampler_free(smp)

    def chat(self, messages, n=64, template=None, temperature=0.0, seed=0):
        """Yields the assistant's reply to messages (dicts with "role" and "content", or
        pairs), rendered by the library's chat template (the vocabulary's own, or `template`
        by name), piece by piece; stops at the template's turn end."""
        tok = self.tokenizer
        t = tok._template(template)
        ids = tok.chat_tokenize(messages, template=library().tlm_chat_template_name(t)
                                .decode("utf-8"))
        is_stop = lambda i: bool(library().tlm_chat_is_stop(t, tok._handle(), i))
        return self._generate(ids, n, temperature, seed, stop=is_stop)
