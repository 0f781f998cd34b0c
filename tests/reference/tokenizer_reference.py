"""What Hugging Face `tokenizers` and transformers make of the Qwen tokenizer,
for tests/tokenizer_test.cpp to compare mstar::text with.

    tokenizer_reference.py FIXTURE_DIR PROMPTS_H OUT.json

FIXTURE_DIR is tests/fixtures/qwen-tokenizer. Writes OUT.json with:
  cases:    >= 5,000 strings (generated from a fixed seed) with their ids and
            decoded text (skip_special_tokens off and on);
  nfc_differs: the generated strings whose NFC `tokenizers` gets wrong, with
            the ids it gives for their standard NFC form;
  prefixes: decodes of the first k ids of some cases (cut multi-byte
            characters: the lossy UTF-8 decoding);
  variants: copies of the tokenizer (written beside OUT.json) with the ids
            of strings on them: one whose added tokens use single_word,
            lstrip, rstrip and normalized=true, one read as GPT-2 reads text
            (no normaliser, ByteLevel's own regex) on every 4th string;
  chat:     Qwen2.5-VL chat-template renderings by transformers'
            apply_chat_template (the TFQ prompt first), with their ids.
"""
import json
import random
import re
import sys
import unicodedata
from pathlib import Path

import tokenizers
import transformers
from tokenizers import Tokenizer

SEED = 20261206
WORDS = ("the of and to in is was that for it with as his on be at by had are but from or have an they which "
         "one you were all her she there would their we him been has when who will no more if out so up said what "
         "its about than into them can only other time new some could these two may first then do any like my now "
         "over such our man me even most made after also did many before must through back years where much your "
         "way well down should because each just those people how too little state good very make world still own "
         "see men work long get here between both life being under never day same another know while last might "
         "apple sign warning implies metaphor image caption poster red green danger symbol reasoning answer").split()
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL", "'D", "'ſ", "'K"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\n\n", " \n ", "\u3000", "\xa0", "\u2028", "\u2029", "\x85", "\u180e",
          "\u200b", "\u202f", "\u205f", "\u1680", "\u2009", "\x0b", "\x0c", "\r", "   \t\n", "\ufeff", "\x1c"]
EMOJI = ["😀", "🎉", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "🇺🇸", "❤️", "✨", "🤖", "🧠", "👀", "🔥", "💯", "🙏🏻",
         "☕", "⚠️", "1️⃣", "🫠", "🪐", "🐍", "🦀", "🍎", "🌍", "✅", "❌", "©️", "™", "🆗", "🈯"]
SCRIPTS = [(0x0041, 0x005A), (0x0061, 0x007A), (0x00C0, 0x00FF), (0x0391, 0x03C9), (0x0410, 0x044F),
           (0x05D0, 0x05EA), (0x0627, 0x064A), (0x0905, 0x0939), (0x0E01, 0x0E2E), (0x10A0, 0x10FF),
           (0x3041, 0x3096), (0x30A1, 0x30FA), (0x4E00, 0x9FA5), (0xAC00, 0xD7A3), (0x0531, 0x0556),
           (0x1E00, 0x1EFF), (0x0100, 0x017F), (0x0660, 0x0669), (0x0966, 0x096F), (0xFF10, 0xFF5A)]
# Strings that NFC changes: combining marks, Hangul jamo, singletons.
NFC_PIECES = ["e\u0301", "A\u030a", "o\u0308", "n\u0303", "a\u0323\u0302", "a\u0302\u0323", "\u1112\u1161\u11ab",
              "\u1100\u1161", "\u212b", "\u2126", "\u212a", "c\u0327", "u\u031b\u0301", "\u0041\u0300\u0316",
              "\u0928\u093c", "\u0915\u093c", "\u00c5", "\u1e9b\u0323", "\u0069\u0307", "\u05e9\u05c1\u05bc",
              "\u30ab\u3099", "\u304b\u3099", "\u0cc6\u0cc2", "\u0b47\u0b3e", "Ω", "\u0344", "\u0340", "\u2000"]
CODE = [
    "def {n}(x, y=None):\n    return x + {d} if y is None else y * {d}\n",
    "for (int i = 0; i < {d}; ++i) {{\n\t{n}[i] = i * i;\n}}\n",
    '{{"{n}": [{d}, {d}.5, null, true], "key": "val\\n"}}',
    "#include <vector>\nstd::vector<int> {n}({d});  // size {d}\n",
    "SELECT {n}, COUNT(*) FROM t WHERE id > {d} GROUP BY {n};",
    "    if {n} != {d}:\n        raise ValueError(f\"bad {{{n}!r}}\")\n\n\n",
    "<div class=\"{n}\">&nbsp;{d}</div>\n",
    "x = [{d}]*{d}; y = {{k: v for k, v in zip('{n}', range({d}))}}",
    "$ ./build/{n} --threads={d} 2>&1 | tee log.txt",
    "fn {n}(&self) -> Result<u32, Box<dyn Error>> {{ Ok({d}) }}",
]


def load_added(fixture):
    return [t["content"] for t in json.loads((fixture / "tokenizer.json").read_text())["added_tokens"]]


def rand_script_text(rng, n):
    lo, hi = rng.choice(SCRIPTS)
    return "".join(chr(rng.randint(lo, hi)) for _ in range(n))


def english(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 25))]
    if rng.random() < 0.5:
        words[0] = words[0].capitalize()
    if rng.random() < 0.3:
        i = rng.randrange(len(words))
        words[i] = words[i].upper()
    if rng.random() < 0.5:
        i = rng.randrange(len(words))
        words[i] += rng.choice(CONTRACTIONS)
    text = " ".join(words)
    return text + rng.choice(["", ".", "!", "?", "...", ",", ";", " —", " (yes)", '"', "'"])


def cjk(rng):
    parts = []
    for _ in range(rng.randint(1, 6)):
        lo, hi = rng.choice([(0x4E00, 0x9FA5), (0x3041, 0x3096), (0x30A1, 0x30FA), (0xAC00, 0xD7A3)])
        parts.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 12))))
        parts.append(rng.choice(["，", "。", "、", "！", "？", "「", "」", " ", "", "：", "（", "）", "123", "AI"]))
    return "".join(parts)


def emoji(rng):
    return "".join(rng.choice(EMOJI + [" ", "", "ok", " wow ", "!", "\n"]) for _ in range(rng.randint(1, 12)))


def digits(rng):
    forms = [lambda: str(rng.randint(0, 10 ** rng.randint(1, 18))), lambda: f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 6)}f}",
             lambda: f"{rng.randint(1, 999)},{rng.randint(0, 999):03d},{rng.randint(0, 999):03d}",
             lambda: f"+1 ({rng.randint(100, 999)}) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
             lambda: f"{rng.randint(1900, 2100)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
             lambda: "".join(chr(rng.randint(0xFF10, 0xFF19)) for _ in range(rng.randint(1, 8))),
             lambda: "".join(chr(rng.randint(0x0660, 0x0669)) for _ in range(rng.randint(1, 8))),
             lambda: f"{rng.randint(1, 99)}%", lambda: f"v{rng.randint(0, 9)}.{rng.randint(0, 99)}.{rng.randint(0, 9)}",
             lambda: f"0x{rng.randint(0, 2 ** 32):08X}", lambda: f"{rng.randint(1, 9)}e-{rng.randint(1, 30)}"]
    return rng.choice([" ", "", "x", " and ", "\n"]).join(rng.choice(forms)() for _ in range(rng.randint(1, 6)))


def whitespace(rng):
    out = []
    for _ in range(rng.randint(1, 8)):
        out.append(rng.choice(SPACES) * rng.randint(1, 4))
        if rng.random() < 0.7:
            out.append(rng.choice(WORDS + ["!", "...", "你好", "😀", "42", "-"]))
    return "".join(out)


def code(rng):
    text = "".join(rng.choice(CODE).format(n=rng.choice(WORDS) + str(rng.randint(0, 9)), d=rng.randint(0, 9999))
                   for _ in range(rng.randint(1, 3)))
    return text.replace("    ", rng.choice(["    ", "\t", "  "]))


def specials(rng, added):
    pieces = []
    for _ in range(rng.randint(1, 8)):
        r = rng.random()
        if r < 0.4:
            pieces.append(rng.choice(added))
        elif r < 0.5:
            tok = rng.choice(added)
            pieces.append(tok[: rng.randint(1, len(tok) - 1)])  # a cut-off token is plain text
        elif r < 0.55:
            pieces.append("<" + rng.choice(added) + ">")
        else:
            pieces.append(rng.choice([english(rng), "\n", " ", "user\n", "assistant\n", cjk(rng), "<", "|", "<|"]))
    return "".join(pieces)


def long_words(rng):
    kind = rng.randrange(7)
    n = rng.choice([50, 100, 257, 300, 1000, 3000])
    if kind == 0:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
    if kind == 1:
        return rng.choice("ab x-=.!0 \n\t") * n
    if kind == 2:
        return "".join(rng.choice("0123456789") for _ in range(n))
    if kind == 3:
        return rand_script_text(rng, n // 4 + 1)
    if kind == 4:
        return "pneumonoultramicroscopicsilicovolcanoconiosis" * rng.randint(1, 20)
    if kind == 5:
        return rng.choice(SPACES) * n + rng.choice(WORDS)
    return "".join(rng.choice("!@#$%^&*()_+{}|:<>?[];',./`~") for _ in range(n))


def mixed(rng):
    return "".join(rng.choice([rand_script_text(rng, rng.randint(1, 8)), " ", "", english(rng)[:20], rng.choice(EMOJI)])
                   for _ in range(rng.randint(2, 8)))


def combining(rng):
    return "".join(rng.choice(NFC_PIECES + [" ", "x", "", rng.choice(WORDS)]) for _ in range(rng.randint(1, 10)))


def random_code_points(rng):
    """Code points assigned in Unicode 14 (this Python's unicodedata and Debian 12's PCRE2 10.42): the
    Oniguruma in `tokenizers` knows Unicode 16, so a letter added since is a letter there and unassigned
    in PCRE2 (docs/tokenizer.md, "Limits")."""
    out, n = [], rng.randint(1, 30)
    while len(out) < n:
        c = chr(rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0x7FF), rng.randint(0x800, 0xFFFF),
                            rng.randint(0x10000, 0x2FFFF)]))
        if unicodedata.category(c) not in ("Cn", "Cs"):  # nor surrogates, which UTF-8 cannot carry
            out.append(c)
    return "".join(out)


def make_cases(added):
    rng = random.Random(SEED)
    kinds = [english, cjk, emoji, digits, whitespace, code, lambda r: specials(r, added), long_words, mixed, combining,
             random_code_points]
    fixed = ["", " ", "\n", "a", "<|im_start|>", "<|im_start|><|im_end|>", "<|im_start|>user\nhi<|im_end|>\n",
             "<think>\n\n</think>\n\n", "Hello world", " Hello", "I'm here, you'll see.", "IT'S", "\u00e9" * 3,
             "e\u0301" * 3, "1234567890", "   leading", "trailing   ", "tab\there", "a\r\nb", "<tool_call>{}</tool_call>"]
    texts = fixed + [kinds[i % len(kinds)](rng) for i in range(6000)]
    return texts


def encode_all(tok, texts):
    out = []
    for text in texts:
        ids = tok.encode(text).ids
        out.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                    "decoded_skip": tok.decode(ids, skip_special_tokens=True)})
    return out


def prefixes(tok, cases):
    rng = random.Random(SEED + 1)
    out = []
    for case in rng.sample(cases, 600):
        if not case["ids"]:
            continue
        ids = case["ids"][: rng.randint(1, len(case["ids"]))] + rng.choice([[], [151700], [151643, 11162]])
        out.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                    "decoded_skip": tok.decode(ids, skip_special_tokens=True)})
    return out


def gpt2_variant(fixture, out_dir, cases):
    """The fixture read as GPT-2 reads text: no normaliser, ByteLevel's own regex (use_regex)."""
    data = json.loads((fixture / "tokenizer.json").read_text())
    data["normalizer"] = None
    data["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    path = out_dir / "tokenizer_gpt2_style.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    return {"file": path.name, "cases": encode_all(Tokenizer.from_file(str(path)), [c["text"] for c in cases[::4]])}


def flags_variant(fixture, out_dir, rng):
    """The fixture with added-token flags set, and strings that exercise them."""
    data = json.loads((fixture / "tokenizer.json").read_text())
    flags = {"<|im_start|>": {"lstrip": True}, "<|im_end|>": {"rstrip": True},
             "<think>": {"single_word": True}, "</think>": {"lstrip": True, "rstrip": True},
             "<tool_call>": {"single_word": True, "rstrip": True}}
    for token in data["added_tokens"]:
        token.update(flags.get(token["content"], {}))
    next_id = max(t["id"] for t in data["added_tokens"]) + 1
    for content in ["é", "Ωmega", "<sep>"]:  # normalized=true: matched after NFC ("e\u0301" too)
        data["added_tokens"].append({"id": next_id, "content": content, "single_word": False, "lstrip": False,
                                     "rstrip": False, "normalized": True, "special": content == "<sep>"})
        next_id += 1
    path = out_dir / "tokenizer_variant.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    tok = Tokenizer.from_file(str(path))
    pieces = list(flags) + ["é", "e\u0301", "Ωmega", "\u2126mega", "<sep>", " ", "  ", "\n", "\t", "word", "x",
                            "über", "_", "1", "你", "!", " \u3000 "]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 10))) for _ in range(800)]
    return {"file": path.name, "cases": encode_all(tok, texts)}


def tfq_template(prompts_h):
    """kTfqTemplate of mstar/data/prompts.h (its adjacent string literals joined)."""
    body = re.search(r"kTfqTemplate\s*=\s*((?:\s*\"(?:[^\"\\]|\\.)*\")+)\s*;", prompts_h.read_text())
    if not body:
        sys.exit(f"{prompts_h}: kTfqTemplate not found")
    return "".join(json.loads(f'"{s}"') for s in re.findall(r"\"((?:[^\"\\]|\\.)*)\"", body.group(1)))


def easyr1_content(prompt):
    """EasyR1's _build_messages: the prompt split at <image>, one image part at each."""
    content = []
    for i, chunk in enumerate(prompt.split("<image>")):
        if i:
            content.append({"type": "image"})
        if chunk:
            content.append({"type": "text", "text": chunk})
    return content


def chat(fixture, prompts_h, tok):
    template = (fixture / "qwen2_5_vl_chat_template.jinja").read_text()
    hf = transformers.AutoTokenizer.from_pretrained(str(fixture))
    tfq = tfq_template(prompts_h).replace("{problem}", "<image>The red apple on the sign implies danger ahead.")
    system = "You are a careful visual reasoner. Think before you answer."
    conversations = [
        {"system": system, "user": tfq, "add_vision_id": False, "add_generation_prompt": True},
        {"system": "", "user": tfq, "add_vision_id": False, "add_generation_prompt": True},
        {"system": system, "user": "<image>\n<image> Compare the two images. 比较这两张图。", "add_vision_id": True,
         "add_generation_prompt": True},
        {"system": system, "user": "No image here, just text with <think> tags </think>.", "add_vision_id": False,
         "add_generation_prompt": False},
        {"system": "", "user": "Describe: <image>", "add_vision_id": False, "add_generation_prompt": True,
         "assistant": "<think>It shows an apple.</think> <answer>T</answer>", "user2": "And <image> this one?"},
    ]
    out = []
    for conv in conversations:
        messages = []
        if conv["system"]:
            messages.append({"role": "system", "content": [{"type": "text", "text": conv["system"]}]})
        messages.append({"role": "user", "content": easyr1_content(conv["user"])})
        if "assistant" in conv:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": conv["assistant"]}]})
            messages.append({"role": "user", "content": easyr1_content(conv["user2"])})
        rendered = hf.apply_chat_template(messages, chat_template=template, tokenize=False,
                                          add_generation_prompt=conv["add_generation_prompt"],
                                          add_vision_id=conv["add_vision_id"])
        out.append(dict(conv, messages=messages, rendered=rendered, ids=tok.encode(rendered).ids))
    return out


def main():
    fixture, prompts_h, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    tok = Tokenizer.from_file(str(fixture / "tokenizer.json"))
    texts = make_cases(load_added(fixture))
    # Where `tokenizers`' NFC (Rust's unicode-normalization) is not Unicode's (this Python's unicodedata,
    # as utf8proc): it leaves U+05AD U+1193D unordered. mstar follows Unicode; these are compared with
    # what `tokenizers` makes of the standard NFC form instead.
    odd = [t for t in texts if tok.normalizer.normalize_str(t) != unicodedata.normalize("NFC", t)]
    cases = encode_all(tok, [t for t in texts if t not in odd])
    nfc_differs = [{"text": t, "ids": tok.encode(unicodedata.normalize("NFC", t)).ids} for t in odd]
    result = {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__, "seed": SEED,
              "cases": cases, "nfc_differs": nfc_differs, "prefixes": prefixes(tok, cases),
              "variants": [flags_variant(fixture, out.parent, random.Random(SEED + 2)),
                           gpt2_variant(fixture, out.parent, cases)],
              "chat": chat(fixture, prompts_h, tok)}
    out.write_text(json.dumps(result, ensure_ascii=False))
    print(f"{out}: {len(cases)} strings ({len(odd)} more where tokenizers' NFC is not Unicode's), {sum(len(v['cases']) for v in result['variants'])} on variants, "
          f"{len(result['chat'])} chat renderings (tokenizers {tokenizers.__version__}, transformers "
          f"{transformers.__version__})")


if __name__ == "__main__":
    main()
