"""tlm-generate's sampler flags on the real stories260K weights.

Expectations come from the reference greedy output in ../shared/models/stories260K.greedy200.txt
(independent NumPy implementation: ids, text and position-0 logits) or from the penalty
formulas of include/tinylm.h re-done here in plain Python on the raw logits tlm-generate
wrote with --logits-out:

  --stop cuts the reference text exactly before the stop string (also inside a token and
  across tokens, several strings: the earliest occurrence), and a string that never appears
  leaves the text whole; --logit-bias ID-inf bans the reference's first token, so the first
  token becomes the runner-up of the reference position-0 logits; ID+100 forces a token at
  every step; --seed gives the same sampled text twice and another seed another text;
  --repeat-penalty / --presence-penalty / --frequency-penalty / --repeat-last-n pick, at every
  step, the argmax of the raw logits penalised by the prompt and the ids generated so far;
  --repeat-last-n 0 gives back the reference ids; the prompt's ids count in the history
  (llama.cpp's rule); bad values are refused."""
import os
import struct
import subprocess
import sys
import tempfile

import testlib

BUILD = os.environ.get("TLM_BUILD", "build")
SHARED = os.environ.get("TLM_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
MODELS = os.path.join(SHARED, "models")
BIN = os.path.join(MODELS, "stories260K.bin")
TOK = os.path.join(MODELS, "tok512.bin")
N_VOCAB = 512

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail and not ok else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def read_reference():
    ids, logits = None, None
    with open(os.path.join(MODELS, "stories260K.greedy200.txt"), encoding="utf-8") as f:
        content = f.read()
    head, _, text = content.partition("text:\n")
    for line in head.splitlines():
        if line.startswith("ids:"):
            ids = [int(v) for v in line[4:].split()]
        elif line.startswith("logits_pos0:"):
            logits = [float(v) for v in line[len("logits_pos0:"):].split()]
    return ids, logits, text


def generate(*extra, n=200):
    p = subprocess.run([os.path.join(BUILD, "tlm-generate"), "-m", BIN, "-z", TOK, "-n", str(n),
                        "-t", "1"] + list(extra), capture_output=True)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def greedy_ids(*extra, n=200):
    rc, out, err = generate("--temp", "0", "--show-ids", *extra, n=n)
    return [int(v) for v in out.split()] if rc == 0 else err


def argmax(values):
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def penalised(logits, history, repeat, presence, frequency):
    """include/tinylm.h: l / r if l > 0 else l * r, then - presence - frequency * count."""
    out = list(logits)
    counts = {}
    for i in history:
        counts[i] = counts.get(i, 0) + 1
    for i, c in counts.items():
        l = out[i]
        l = l / repeat if l > 0 else l * repeat
        out[i] = l - presence - frequency * c
    return out


def test_stop(ref_text):
    # strings at a token start, inside a token, across tokens, and with punctuation
    for stop in ("Lily", "ttle gi", "e park. One", ", she saw", "high.\nLily"):
        at = ref_text.find(stop)
        rc, out, err = generate("--temp", "0", "--stop", stop)
        check("--stop %r cuts the reference text at char %d" % (stop, at),
              rc == 0 and at > 0 and out == ref_text[:at] + "\n",
              err if rc else "got %r" % out[-40:])
    # two strings: the one that occurs first wins, whichever order they are given in
    first = min(ref_text.find("red ball"), ref_text.find("park"))
    for order in (("red ball", "park"), ("park", "red ball")):
        rc, out, _ = generate("--temp", "0", "--stop", order[0], "--stop", order[1])
        check("--stop %r --stop %r: cut at the earlier one" % order,
              rc == 0 and out == ref_text[:first] + "\n")
    # a string that never appears, and one that is a near miss of the text, keep it whole
    for stop in ("zebra", "Lily!"):
        rc, out, _ = generate("--temp", "0", "--stop", stop)
        check("--stop %r (absent): the whole reference text" % stop,
              rc == 0 and out.rstrip("\n") == ref_text.rstrip("\n"))
    rc, _, err = generate("--temp", "0", "--show-ids", "--stop", "Lily", n=5)
    check("--stop with --show-ids is refused (exit 1)",
          testlib.refused(rc, testlib.EXIT_FAILURE) and "--stop" in err, "exit %d: %s" % (rc, err))


def test_bias(ref_ids, ref_logits):
    first = ref_ids[0]
    runner_up = argmax([v if i != first else float("-inf") for i, v in enumerate(ref_logits)])
    ids = greedy_ids("--logit-bias", "%d-inf" % first, n=3)
    check("--logit-bias %d-inf: first id is the runner-up %d" % (first, runner_up),
          isinstance(ids, list) and len(ids) >= 1 and ids[0] == runner_up and first not in ids,
          str(ids))
    # a bias smaller than the gap leaves the argmax; a larger one moves it
    gap = ref_logits[first] - ref_logits[runner_up]
    ids = greedy_ids("--logit-bias", "%d-%g" % (first, gap * 0.5), n=1)
    check("--logit-bias -%.3f (half the gap) keeps id %d" % (gap * 0.5, first),
          isinstance(ids, list) and ids[:1] == [first], str(ids))
    ids = greedy_ids("--logit-bias", "%d+%g" % (runner_up, gap * 1.5), n=1)
    check("--logit-bias %d+%.3f (1.5 gaps) makes it the first id" % (runner_up, gap * 1.5),
          isinstance(ids, list) and ids[:1] == [runner_up], str(ids))
    ids = greedy_ids("--logit-bias", "300+100", n=6)
    check("--logit-bias 300+100 forces id 300 at every step", ids == [300] * 6, str(ids))
    # a malformed value is a usage error (2); an id past the model's vocabulary is known only
    # once the model is loaded (1)
    for bad, code in (("12x", 2), ("12", 2), ("+5", 2), ("12+inf", 2), ("12+nan", 2),
                      ("600+1", 1), ("-1+2", 2)):
        rc, _, err = generate("--logit-bias", bad, n=1)
        check("--logit-bias %s is refused (exit %d)" % (bad, code),
              testlib.refused(rc, code) and err.strip() != "", "exit %d: %s" % (rc, err.strip()))


def test_seed(ref_text):
    a = generate("--temp", "0.9", "--seed", "7", n=80)
    b = generate("--temp", "0.9", "--seed", "7", n=80)
    c = generate("--temp", "0.9", "--seed", "8", n=80)
    check("--seed 7 twice: the same text", a[0] == 0 and a[1] == b[1] and a[1].strip() != "")
    check("--seed 8: another text", c[0] == 0 and c[1] != a[1])
    d = generate("--temp", "0.9", "--seed", "7", "--min-p", "0.3", "--repeat-penalty", "1.2", n=80)
    e = generate("--temp", "0.9", "--seed", "7", "--min-p", "0.3", "--repeat-penalty", "1.2", n=80)
    check("--seed 7 with --min-p and --repeat-penalty twice: the same text",
          d[0] == 0 and d[1] == e[1] and d[1] != a[1])
    # min-p 1 keeps only the most likely token at any temperature: the greedy text
    rc, out, _ = generate("--temp", "1.5", "--seed", "3", "--min-p", "1")
    check("--min-p 1 at --temp 1.5 gives the greedy reference text",
          rc == 0 and out.rstrip("\n") == ref_text.rstrip("\n"))


def test_penalties(ref_ids):
    ids = greedy_ids("--repeat-penalty", "2", "--frequency-penalty", "1", "--repeat-last-n", "0")
    check("--repeat-last-n 0: penalties see nothing, the reference ids", ids == ref_ids)
    cases = [("--repeat-penalty", 1.3, 0.0, 0.0, 64), ("--presence-penalty", 1.0, 0.8, 0.0, 16),
             ("--frequency-penalty", 1.0, 0.0, 0.6, 32), ("all", 1.2, 0.3, 0.4, 8),
             ("all, window -1", 1.1, 0.2, 0.2, -1), ("strong", 3.0, 2.0, 0.0, 8)]
    # the prompt: BOS and the reference's ids up to one that repeats an earlier one, so the
    # greedy next id is penalised only if the prompt's ids count
    k = next(k for k in range(5, len(ref_ids)) if ref_ids[k] in ref_ids[:k])
    prompt = [1] + ref_ids[:k]
    tmp = tempfile.mkdtemp()
    n_prompt_matters = 0
    for name, r, pres, freq, last_n in cases:
        path = os.path.join(tmp, "logits.f32")
        n = 60
        rc, out, err = generate("--temp", "0", "--show-ids", "--logits-out", path,
                                "--tokens", ",".join(str(i) for i in prompt),
                                "--repeat-penalty", str(r), "--presence-penalty", str(pres),
                                "--frequency-penalty", str(freq), "--repeat-last-n", str(last_n),
                                n=n)
        if rc != 0:
            check("%s: runs" % name, False, err)
            continue
        ids = [int(v) for v in out.split()]
        with open(path, "rb") as f:
            data = f.read()
        os.remove(path)
        rows = len(data) // (4 * N_VOCAB)
        bad, prompt_matters = [], False
        history = list(prompt)
        for step in range(min(rows, len(ids))):
            raw = struct.unpack_from("<%df" % N_VOCAB, data, step * 4 * N_VOCAB)
            window = history if last_n < 0 else history[-last_n:] if last_n else []
            pen = penalised(raw, window, r, pres, freq)
            want = argmax(pen)
            close = sorted(pen)[-2] > pen[want] - 1e-4  # a near tie: float32 may pick either
            if ids[step] != want and not close:
                bad.append(step)
            # would leaving the prompt out of the history have changed this step?
            no_prompt = history[len(prompt):]
            no_prompt = no_prompt if last_n < 0 else no_prompt[-last_n:] if last_n else []
            prompt_matters |= argmax(penalised(raw, no_prompt, r, pres, freq)) != want
            history.append(ids[step])
        check("%s (r %g, presence %g, frequency %g, last %d): %d steps pick the penalised argmax"
              % (name, r, pres, freq, last_n, len(ids)),
              rows == len(ids) == n and not bad, "steps %s differ" % bad[:5])
        n_prompt_matters += prompt_matters
        check("%s: the penalties change the greedy continuation" % name,
              ids != ref_ids[len(prompt) - 1:len(prompt) - 1 + n])
    os.rmdir(tmp)
    check("the prompt's ids in the history change the choice in some cases (%d of %d)"
          % (n_prompt_matters, len(cases)), n_prompt_matters >= 2)
    for flag, bad in (("--min-p", "1.5"), ("--repeat-penalty", "0"), ("--presence-penalty", "3"),
                      ("--frequency-penalty", "-2.5"), ("--repeat-last-n", "-2")):
        rc, _, err = generate(flag, bad, n=1)
        check("%s %s is refused (exit 2)" % (flag, bad),
              testlib.refused(rc, testlib.EXIT_USAGE) and err.strip() != "",
              "exit %d: %s" % (rc, err.strip()))


N_CASES = 44  # the checks main() makes with the models present


def main():
    if not os.path.exists(BIN):
        testlib.missing(BIN, N_CASES)
        return testlib.finish("sampler_cli", passed, failed)
    ref_ids, ref_logits, ref_text = read_reference()
    test_stop(ref_text)
    test_bias(ref_ids, ref_logits)
    test_seed(ref_text)
    test_penalties(ref_ids)
    return testlib.finish("sampler_cli", passed, failed)


if __name__ == "__main__":
    sys.exit(main())
