"""The Python half of tokenizer_bench (bench/tokenizer_bench.cpp drives it).

    tokenizer_bench.py corpus OUT.json          the corpus: the repository's docs and sources
                                                and the tokenizer test's generated strings
    tokenizer_bench.py time TOKENIZER CORPUS P  P passes of Hugging Face `tokenizers` over it,
                                                one encode() per document, one thread
"""
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def corpus(out):
    docs = []
    for pattern in ["README.md", "docs/*.md", "plugin_api/**/*.h", "plugin_api/**/*.cpp", "host/src/**/*.cpp",
                    "plugins/**/*.cpp"]:
        docs += [p.read_text(encoding="utf-8") for p in sorted(ROOT.glob(pattern))]
    sys.path.insert(0, str(ROOT / "tests" / "reference"))
    from tokenizer_reference import load_added, make_cases  # the test's strings: CJK, emoji, code, ...
    docs += make_cases(load_added(ROOT / "tests" / "fixtures" / "qwen-tokenizer"))
    Path(out).write_text(json.dumps(docs, ensure_ascii=False))


def timing(tokenizer, corpus_file, passes):
    os.environ["RAYON_NUM_THREADS"] = "1"
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tokenizer)
    docs = json.loads(Path(corpus_file).read_text(encoding="utf-8"))
    seconds, ids = [], 0
    for _ in range(passes):
        start = time.process_time()  # CPU time: the machine may be shared
        ids = sum(len(tok.encode(d).ids) for d in docs)
        seconds.append(time.process_time() - start)
    print(json.dumps({"seconds": seconds, "ids": ids}))


if __name__ == "__main__":
    if sys.argv[1] == "corpus":
        corpus(sys.argv[2])
    else:
        timing(sys.argv[2], sys.argv[3], int(sys.argv[4]))
