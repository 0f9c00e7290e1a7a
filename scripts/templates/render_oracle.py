#!/usr/bin/env python3
"""Reference renders for MoETemplates (the Swift Jinja interpreter).

Renders every chat template in Tests/MoETemplatesTests/Templates with the rendering code of the installed
`transformers` package itself (its `render_jinja_template`, which compiles the template with jinja2's
ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, and its own tojson / raise_exception /
strftime_now / namespace / dict globals), over a fixed set of conversations. It also renders a list of small
snippets through the same compiled environment. Outputs:

  Tests/MoETemplatesTests/Oracle/renders.json   one record per (template, conversation)
  Tests/MoETemplatesTests/Oracle/snippets.json  one record per snippet

Each record holds the inputs as JSON and either `expected` (the rendered string) or `error`
({"type": exception class name, "message": str(exception)}).

`strftime_now` reads the clock; the oracle pins it to FIXED_NOW so that renders are reproducible, and the Swift
tests pass the same instant.

Usage: python3 scripts/templates/render_oracle.py   (needs transformers and jinja2 >= 3.1.6)
"""

import json
import os
import sys
from datetime import datetime

import jinja2
import transformers
from transformers.utils import chat_template_utils as ctu

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESTS = os.path.join(ROOT, "Tests", "MoETemplatesTests")
TEMPLATES = os.path.join(TESTS, "Templates")
ORACLE = os.path.join(TESTS, "Oracle")

# 2026-03-07 09:05:03 local time, a Saturday.
FIXED_NOW = datetime(2026, 3, 7, 9, 5, 3)


class _FixedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


# transformers' strftime_now calls `datetime.now()` through its module global.
ctu.datetime = _FixedDatetime

# Special tokens each model's tokenizer passes (tokenizer.special_tokens_map).
SPECIAL_TOKENS = {
    "smollm2-135m-instruct": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "unk_token": "<|endoftext|>", "pad_token": "<|im_end|>"},
    "qwen3": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "qwen3-coder-30b-a3b": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "glm-4.5": {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
    "glm-4.6": {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
    "glm-5.1": {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
    "deepseek-v3": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>", "pad_token": "<｜end▁of▁sentence｜>"},
    "mixtral-8x7b-instruct": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "mixtral-8x7b-instruct-legacy": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "gpt-oss-20b": {"bos_token": "<|startoftext|>", "eos_token": "<|return|>", "pad_token": "<|endoftext|>"},
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city — °C by default",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit", "default": "celsius"},
                "days": {"type": "integer", "description": "Forecast days", "default": 1},
            },
            "required": ["city"],
        },
    },
}

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search documents",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "The query"},
                "limit": {"type": "number", "description": "Max results", "default": 2.5},
                "threshold": {"type": "number", "description": "Score cut-off", "default": 1e-7},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags to match"},
                "filters": {"type": "object", "description": "Extra filters", "properties": {"lang": {"type": "string", "description": "Language"}}},
                "exact": {"type": "boolean", "description": "Exact match", "default": False},
                "boost": {"type": ["number", "null"], "description": "Boost factor"},
            },
            "required": ["query"],
        },
    },
}

TOOLS = [WEATHER_TOOL, SEARCH_TOOL]

CALL_ARGS = {"city": "Paris", "unit": "celsius", "days": 3, "details": {"wind": True, "ratio": 0.25, "big": 1e20, "none": None}, "tags": ["a", "ü"]}

CONVERSATIONS = [
    ("single_user_gen", {"messages": [{"role": "user", "content": "Hello!"}], "add_generation_prompt": True}),
    ("user_assistant", {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello, how can I help?"}], "add_generation_prompt": False}),
    ("system_multi_turn", {"messages": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ], "add_generation_prompt": True}),
    ("system_multi_turn_nogen", {"messages": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "6"},
    ], "add_generation_prompt": False}),
    ("non_ascii", {"messages": [
        {"role": "system", "content": "Réponds en français. 日本語も可。"},
        {"role": "user", "content": "Grüße 👋 \"quoted\" back\\slash\ttab\nnew line  "},
        {"role": "assistant", "content": "  Ça va ✓ — 你好  "},
        {"role": "user", "content": "€ 🚀"},
    ], "add_generation_prompt": True}),
    ("tools_defined", {"messages": [
        {"role": "system", "content": "Use tools when helpful."},
        {"role": "user", "content": "Weather in Paris?"},
    ], "tools": TOOLS, "add_generation_prompt": True}),
    ("tools_no_system", {"messages": [{"role": "user", "content": "Find docs about MoE."}], "tools": TOOLS, "add_generation_prompt": True}),
    ("tool_call_roundtrip", {"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": CALL_ARGS}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21.5 °C and clear."},
    ], "tools": TOOLS, "add_generation_prompt": False}),
    ("tool_call_pending", {"messages": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ], "tools": TOOLS, "add_generation_prompt": True}),
    ("tool_call_string_args", {"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ], "tools": TOOLS, "add_generation_prompt": True}),
    ("parallel_tool_calls", {"messages": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"id": "b", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome", "days": 2}}},
        ]},
        {"role": "tool", "tool_call_id": "a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "b", "content": "rainy"},
    ], "tools": TOOLS, "add_generation_prompt": True}),
    ("reasoning_content", {"messages": [
        {"role": "user", "content": "Is 17 prime?"},
        {"role": "assistant", "reasoning_content": "Check divisors up to 4.", "content": "Yes."},
        {"role": "user", "content": "Is 21 prime?"},
        {"role": "assistant", "reasoning_content": "\n21 = 3 * 7.\n", "content": "No, 21 = 3 × 7."},
    ], "add_generation_prompt": False}),
    ("reasoning_in_content", {"messages": [
        {"role": "user", "content": "Is 17 prime?"},
        {"role": "assistant", "content": "<think>\nCheck divisors.\n</think>\n\nYes."},
        {"role": "user", "content": "Thanks"},
    ], "add_generation_prompt": True}),
    ("thinking_field", {"messages": [
        {"role": "user", "content": "Is 17 prime?"},
        {"role": "assistant", "thinking": "Try 2, 3.", "content": "Yes."},
    ], "add_generation_prompt": False}),
    ("enable_thinking_false", {"messages": [{"role": "user", "content": "Quick answer please"}], "add_generation_prompt": True, "enable_thinking": False}),
    ("enable_thinking_true", {"messages": [{"role": "user", "content": "Think hard"}], "add_generation_prompt": True, "enable_thinking": True}),
    ("content_list", {"messages": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "Part one. "}, {"type": "text", "text": "Part two."}]},
    ], "add_generation_prompt": True}),
    ("gpt_oss_options", {"messages": [
        {"role": "developer", "content": "Answer in haiku."},
        {"role": "user", "content": "Describe autumn."},
    ], "add_generation_prompt": True, "reasoning_effort": "high", "model_identity": "You are TestBot.", "builtin_tools": ["browser", "python"]}),
    ("gpt_oss_tools_training", {"messages": [
        {"role": "system", "content": "Be helpful."},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "thinking": "Need the tool.", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
        {"role": "tool", "content": "{\"temp\": -3}"},
        {"role": "assistant", "thinking": "Cold.", "content": "It is −3 °C."},
    ], "tools": TOOLS, "add_generation_prompt": False}),
    ("multi_step_tools", {"messages": [
        {"role": "system", "content": "Plan, then act."},
        {"role": "user", "content": "Compare Paris and Rome weather."},
        {"role": "assistant", "reasoning_content": "Start with Paris.", "content": "", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "1", "content": "18 °C"},
        {"role": "assistant", "reasoning_content": "Now Rome.", "content": "Paris done.", "tool_calls": [{"id": "2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome", "unit": "fahrenheit"}}}]},
        {"role": "tool", "tool_call_id": "2", "content": "75 °F"},
        {"role": "assistant", "reasoning_content": "Convert and compare.", "content": "Rome is warmer."},
    ], "tools": TOOLS, "add_generation_prompt": False}),
    ("tool_content_list", {"messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
        {"role": "tool", "tool_call_id": "1", "content": [{"type": "text", "text": "cold"}]},
    ], "tools": TOOLS, "add_generation_prompt": True}),
    ("tool_reference", {"messages": [
        {"role": "user", "content": "Load the weather tool."},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "load_tools", "arguments": {"names": ["get_weather"]}}}]},
        {"role": "tool", "tool_call_id": "1", "content": [{"type": "tool_reference", "name": "get_weather"}]},
    ], "tools": TOOLS, "add_generation_prompt": True}),
    ("clear_thinking_false", {"messages": [
        {"role": "user", "content": "Is 17 prime?"},
        {"role": "assistant", "reasoning_content": "Check divisors up to 4.", "content": "Yes."},
        {"role": "user", "content": "Is 21 prime?"},
    ], "add_generation_prompt": True, "clear_thinking": False}),
    ("bad_alternation", {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "add_generation_prompt": True}),
    ("documents_passed", {"messages": [{"role": "user", "content": "Summarize"}], "documents": [{"title": "Doc", "text": "Body"}], "add_generation_prompt": True}),
]


def compile_env_template(source):
    return ctu._compile_jinja_template(source)


def render_conversation(source, name, convo):
    convo = json.loads(json.dumps(convo))  # deep copy
    messages = convo.pop("messages")
    tools = convo.pop("tools", None)
    documents = convo.pop("documents", None)
    agp = convo.pop("add_generation_prompt", False)
    kwargs = {**SPECIAL_TOKENS.get(name, {}), **convo}
    conversations = [ctu._normalize_chat_messages(messages)]
    rendered, _ = ctu.render_jinja_template(
        conversations=conversations, tools=tools, documents=documents, chat_template=source,
        add_generation_prompt=agp, **kwargs,
    )
    return rendered[0]


def error_record(exc):
    return {"type": type(exc).__name__, "message": str(exc)}


# Snippets: (name, template, context). Rendered with the same compiled environment transformers uses.
USERS = [{"name": "b", "age": 2, "x": {"y": 2}}, {"name": "a", "age": 1}]
D = {"b": 1, "a": [1, 2, {"c": None}]}
BASE = {"n": 7, "f": 2.5, "s": "  Hello, World  ", "xs": [3, 1, 2], "d": D, "users": USERS, "t": True, "e": "", "none": None, "u8": "héllo wörld ü"}

SNIPPETS = [
    # literals and output
    ("lit_str_escapes", r"""{{ 'a\'b' }}|{{ "a\"b" }}|{{ 'tab\there' }}|{{ 'nl\nx' }}|{{ '\x41\u00e9\U0001F600' }}|{{ 'back\\slash' }}|{{ 'unknown\d' }}""", {}),
    ("lit_numbers", "{{ 1 }} {{ 1.0 }} {{ 1.5e3 }} {{ 1e-5 }} {{ 10_000 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 123456789.123 }} {{ 2**70 }} {{ -0.0 }} {{ 1/3 }}", {}),
    ("lit_consts", "{{ True }} {{ true }} {{ False }} {{ false }} {{ None }} {{ none }} {{ [true, none, 'x'] }}", {}),
    ("lit_containers", "{{ [1, 'a', \"b'c\", 2.0, none] }} {{ {'k': [1, 'v'], 2: 'two'} }} {{ (1, 2) }} {{ (1,) }} {{ () }} {{ [] }} {{ {} }}", {}),
    ("repr_strings", "{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'nl\\n', 'tab\\t', 'é✓', '\\x07', 'bs\\\\'] }}", {}),
    ("output_tuple", "{{ 1, 'a' }}", {}),
    # arithmetic
    ("arith_int", "{{ n + 1 }} {{ n - 10 }} {{ n * 3 }} {{ n / 2 }} {{ n // 2 }} {{ n % 3 }} {{ -n % 3 }} {{ -n // 2 }} {{ n ** 2 }} {{ 2 ** -1 }} {{ 7 % -3 }}", BASE),
    ("arith_float", "{{ f * 2 }} {{ f + 1 }} {{ f / 0.5 }} {{ 10 // 4.0 }} {{ 7.5 % 2 }} {{ f ** 2 }} {{ 3 / 1 }} {{ 0.1 * 3 }} {{ 1e300 * 1e10 }}", BASE),
    ("arith_str", "{{ 'ab' + 'cd' }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1] + [2, 3] }} {{ [0] * 3 }} {{ 'a' ~ 1 ~ none ~ true ~ 2.50 }}", BASE),
    ("unary", "{{ -n }} {{ +n }} {{ -f }} {{ not t }} {{ not e }} {{ -3|abs }} {{ - 2 ** 2 }}", BASE),
    ("div_zero", "{{ 1 / 0 }}", {}),
    ("add_type_error", "{{ 'a' + 1 }}", {}),
    # comparisons and logic
    ("compare", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 3 > 4 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 1 != 2 }} {{ [1, 2] == [1, 2] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ none == none }} {{ true == 1 }} {{ 'a' == 'a' }}", {}),
    ("compare_type_error", "{{ 1 < 'a' }}", {}),
    ("logic", "{{ t and 'yes' }} {{ e or 'fallback' }} {{ none or 0 or [] or 'last' }} {{ 0 and 1 }} {{ n and f }} {{ e and 'x' }}|{{ 'x' if t }}|{{ 'x' if e }}|{{ 'a' if e else 'b' if t else 'c' }}", BASE),
    ("membership", "{{ 'a' in 'cat' }} {{ 3 not in xs }} {{ 1 in xs }} {{ 'b' in d }} {{ 'z' in d }} {{ none in [none] }} {{ 'ell' in s }}", BASE),
    # tests
    ("tests_types", "{{ none is none }} {{ t is true }} {{ t is false }} {{ 1 is true }} {{ t is boolean }} {{ n is number }} {{ f is number }} {{ t is number }} {{ n is integer }} {{ f is float }} {{ s is string }} {{ d is mapping }} {{ xs is mapping }} {{ xs is iterable }} {{ s is iterable }} {{ d is iterable }} {{ n is iterable }} {{ xs is sequence }} {{ s is sequence }} {{ d is sequence }} {{ q is defined }} {{ q is undefined }} {{ n is defined }}", BASE),
    ("tests_values", "{{ n is odd }} {{ n is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ n is eq 7 }} {{ n is equalto(7) }} {{ n is ne 7 }} {{ n is lt 10 }} {{ n is gt(10) }} {{ n is ge 7 }} {{ n is le 6 }} {{ none is sameas none }} {{ s is lower }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ xs is in [xs] }} {{ 1 is in xs }} {{ n is not none }} {{ n is callable }} {{ d.get is callable }}", BASE),
    ("test_unknown", "{{ 1 is frobnicated }}", {}),
    # attribute and item access
    ("access", "{{ d.b }} {{ d['b'] }} {{ d.a[2].c }} {{ d.a.1 }} {{ d['a'][-1] }} {{ users[0].name }} {{ users[1]['name'] }} {{ users[-1].x }}|{{ d.missing }}|{{ d['missing'] }}|{{ xs[10] }}|", BASE),
    ("access_undefined_attr", "[{{ q.x }}]", {}),
    ("access_undefined_attr2", "[{{ d.missing.x }}]", BASE),
    ("access_none_attr", "[{{ none.x }}]", BASE),
    ("undefined_ops", "[{{ q }}][{{ q|default('dflt') }}][{{ q|length }}][{{ q ~ 'x' }}][{% for i in q %}{{ i }}{% endfor %}][{{ q is none }}][{{ q == none }}][{{ not q }}][{{ q|string }}][{{ q|list }}][{% if q %}t{% else %}f{% endif %}]", {}),
    ("undefined_add", "{{ q + 1 }}", {}),
    ("undefined_tojson", "{{ q|tojson }}", {}),
    ("slicing", "{{ xs[1:] }} {{ xs[:2] }} {{ xs[::-1] }} {{ xs[::2] }} {{ xs[-2:] }} {{ s[2:7] }} {{ 'abcdef'[::-1] }} {{ 'abcdef'[1:-1:2] }} {{ xs[5:] }} {{ (1,2,3)[1:] }}", BASE),
    ("str_index", "{{ 'abc'[0] }}{{ 'abc'[-1] }}{{ s[2] }}", BASE),
    # string methods
    ("str_methods", "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ s.split(',') }}][{{ s.split() }}][{{ 'a,b,,c'.split(',') }}][{{ 'a b c'.split(' ', 1) }}][{{ 'a,b,c'.rsplit(',', 1) }}][{{ s.upper() }}][{{ s.lower() }}][{{ 'xxhixx'.strip('x') }}][{{ '\\n\\nhi\\n'.lstrip('\\n') }}][{{ 'hi\\n\\n'.rstrip('\\n') }}]", BASE),
    ("str_methods2", "{{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'x,y'.replace(',', ';') }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('lo', 'x')) }} {{ 'Hello'.startswith('lo', 3) }} {{ 'banana'.find('an') }} {{ 'banana'.rfind('an') }} {{ 'banana'.find('x') }} {{ 'banana'.count('a') }} {{ 'banana'.index('n') }} {{ 'abc'.isalpha() }} {{ '12'.isdigit() }} {{ ' '.isspace() }} {{ 'a-b'.partition('-') }} {{ 'Ab'.swapcase() }} {{ '-'.join(['a', 'b']) }} {{ 'x'.center(5, '*') }} {{ '7'.zfill(3) }} {{ 'ab'.ljust(4, '.') }}|{{ 'ab'.rjust(4) }}", {}),
    ("str_format", "{{ '{} + {} = {}'.format(1, 2, 3) }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='hi') }} {{ '%s is %d years' % ('Tom', 3) }} {{ '%.2f' % 3.14159 }} {{ '%5s|%-5s|' % ('a', 'b') }} {{ '%r' % 'q' }} {{ '100%%' % () }} {{ '%s' % none }} {{ '%03d' % 7 }} {{ '%x' % 255 }}", {}),
    ("str_unicode", "{{ u8.upper() }} {{ u8|length }} {{ u8.title() }} {{ u8[1] }} {{ 'ß'.upper() }} {{ 'İ'.lower()|length }} {{ '🚀x'|length }} {{ '🚀x'[1] }} {{ u8|capitalize }}", BASE),
    # dict methods
    ("dict_methods", "{{ d.items()|list }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.get('b') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d|length }} {{ d.items() }} {{ d.keys() }} {% for k in d %}{{ k }};{% endfor %} {{ dict(a=1, b=2) }} {{ dict(d, c=3)|length }} {{ d.copy() }}", BASE),
    ("list_methods", "{{ xs.index(1) }} {{ xs.count(3) }} {{ xs|length }}", BASE),
    ("list_append_sandbox", "{% set ys = [] %}{% set _ = ys.append(1) %}{{ ys }}", {}),
    ("dict_update_sandbox", "{% set m = {} %}{% set _ = m.update({'a': 1}) %}{{ m }}", {}),
    ("unsafe_attr_print", "[{{ xs.append }}]", BASE),
    ("private_attr", "[{{ d._secret }}][{{ 'x'.__class__ }}]", BASE),
    # filters
    ("filters_basic", "{{ s|trim }}|{{ 'xxaxx'|trim('x') }}|{{ s|length }}|{{ xs|count }}|{{ xs|first }}|{{ xs|last }}|{{ xs|join('-') }}|{{ xs|join }}|{{ 'abc'|first }}|{{ 'abc'|list }}|{{ s|upper }}|{{ s|lower }}|{{ 'hi there'|title }}|{{ 'hi There'|capitalize }}|{{ 'aXbX'|replace('X', '-') }}|{{ 'aaa'|replace('a', 'b', 1) }}|{{ 'a b  c'|wordcount }}", BASE),
    ("filters_numbers", "{{ 3.7|int }} {{ '4'|int + 1 }} {{ 'x'|int }} {{ 'x'|int(9) }} {{ '0x1A'|int(0, 16) }} {{ '3.5'|float }} {{ 'x'|float }} {{ 2|float }} {{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.567|round(2) }} {{ 2.5|round(0, 'floor') }} {{ 2.1|round(0, 'ceil') }} {{ 7|round }} {{ true|int }} {{ '  12 '|int }} {{ '1e3'|float }} {{ 1e3|int }}", {}),
    ("filters_seq", "{{ xs|sort }} {{ xs|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ xs|reverse|list }} {{ 'abc'|reverse }} {{ xs|max }} {{ xs|min }} {{ xs|sum }} {{ [1.5, 2]|sum }} {{ xs|sum(start=10) }} {{ [3, 1, 3, 2, 1]|unique|list }} {{ ['a', 'A', 'b']|unique|list }} {{ xs|list }} {{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }} {{ [[1, 2], [3]]|sum(start=[]) }} {{ xs|batch(2)|list }} {{ xs|slice(2)|list }}", BASE),
    ("filters_attr", "{{ users|map(attribute='name')|join(',') }} {{ users|map(attribute='age')|sum }} {{ users|map(attribute='missing', default='?')|list }} {{ users|selectattr('age', 'gt', 1)|list|length }} {{ users|selectattr('x')|map(attribute='name')|list }} {{ users|rejectattr('x')|map(attribute='name')|list }} {{ users|sort(attribute='name')|map(attribute='age')|list }} {{ users|selectattr('x')|map(attribute='x.y')|first }} {{ users|selectattr('name', 'equalto', 'a')|map(attribute='age')|first }} {{ users|map('string')|list|length }} {{ xs|map('string')|list }} {{ ['a', 'b']|map('upper')|list }} {{ users|sum(attribute='age') }} {{ users|max(attribute='age') }} {{ users|min(attribute='age') }}", BASE),
    ("filters_select", "{{ xs|select('odd')|list }} {{ xs|reject('odd')|list }} {{ [none, 0, 1, '', 'a']|select|list }} {{ [none, 0, 1]|reject|list }} {{ xs|select('gt', 1)|list }} {{ xs|select('in', [1, 2])|list }} {{ users|selectattr('x', 'defined')|map(attribute='name')|list }} {{ users|selectattr('x', 'undefined')|map(attribute='name')|list }} {{ ['a', 1, none]|select('string')|list }} {{ [1, 'a']|reject('number')|list }}", BASE),
    ("filters_dict", "{{ d|dictsort }} {{ d|dictsort(reverse=true) }} {{ {'b': 2, 'A': 1, 'a': 3}|dictsort }} {{ {'b': 2, 'a': 3}|dictsort(by='value') }} {{ d|items|list }} {{ d|list }} {{ users|groupby('age')|list }} {% for age, grp in users|groupby('age') %}{{ age }}:{{ grp|map(attribute='name')|join }};{% endfor %}", BASE),
    ("filters_default", "{{ q|default('d') }} {{ none|default('d') }} {{ e|default('d') }} {{ e|default('d', true) }} {{ e|d('x', boolean=true) }} {{ 0|default(5) }} {{ n|d(1) }}", BASE),
    ("filters_string", "{{ 3|string }} {{ none|string }} {{ xs|string }} {{ d|string }} {{ t|string }} {{ 2.50|string }} {{ 'a<b'|safe }} {{ 'a<b&\"c'|escape }} {{ 'a<b'|e }} {{ 'line1\\nline2'|indent(2) }}|{{ 'line1\\nline2\\n\\nline4'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'ab'|center(6) }}|{{ 'hello world foo'|truncate(9) }}|{{ 'hello'|truncate(3, true, '..', 0) }}|{{ '%s-%s'|format('a', 'b') }}|{{ 'a  b'|striptags }}", BASE),
    ("filter_length_of_none", "{{ none|length }}", BASE),
    ("filter_unknown", "{{ 1|frobnicate }}", {}),
    ("filter_int_base", "{{ '11'|int(base=2) }} {{ 'z'|int(default=3) }}", {}),
    # tojson (transformers' own filter)
    ("tojson_basic", "{{ d|tojson }}|{{ 'é\"\\\\\\n\\u2028</script>'|tojson }}|{{ none|tojson }}|{{ t|tojson }}|{{ [1.0, 2.5, 1e20, 1e-7, 3, -0.0, 1e16, 123456789012345678901234567890]|tojson }}|{{ (1, 2)|tojson }}|{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}|{{ {1: 'int key', none: 'n', true: 't'}|tojson }}", BASE),
    ("tojson_indent", "{{ d|tojson(indent=2) }}|{{ users|tojson(indent=4) }}|{{ [] |tojson(indent=2) }}|{{ {}|tojson(indent=2) }}|{{ [[]]|tojson(indent=1) }}|{{ d|tojson(indent='\\t') }}|{{ d|tojson(indent=0) }}", BASE),
    ("tojson_separators", "{{ d|tojson(separators=(',', ':')) }}|{{ d|tojson(indent=2, separators=(',', ': ')) }}|{{ d|tojson(ensure_ascii=true) }}|{{ '😀é'|tojson(ensure_ascii=true) }}|{{ d|tojson(indent=none) }}", BASE),
    ("tojson_control", "{{ '\\x01\\x1f\\x7f\\b\\f\\r\\t'|tojson }}", {}),
    ("tojson_nonfinite", "{{ [1e400, -1e400]|tojson }}", {}),
    # statements: if / for
    ("if_elif", "{% for v in [1, 5, 9] %}{% if v > 8 %}big{% elif v > 2 %}mid{% else %}small{% endif %},{% endfor %}", {}),
    ("for_loop_vars", "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.depth }}{{ loop.cycle('x', 'y') }};{% endfor %}", {}),
    ("for_else_filter", "{% for u in users if u.age > 1 %}{{ loop.index }}/{{ loop.length }}:{{ u.name }}{% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in xs if x > 5 %}{{ x }}{% else %}nothing{% endfor %}", BASE),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }},{% endfor %}|{% for k, v in d|dictsort %}{{ k }}{% endfor %}", BASE),
    ("for_unpack_error", "{% for a, b in [1] %}{{ a }}{% endfor %}", {}),
    ("for_string_and_dict", "{% for c in 'abc' %}{{ c }}.{% endfor %}{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}", {}),
    ("for_nested_loop", "{% for a in [1, 2] %}{% for b in [1, 2] %}{{ loop.index }}{{ loop.depth }}{% endfor %}{{ loop.index }}{% endfor %}", {}),
    ("for_break_continue", "{% for x in range(10) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("for_recursive", "{% for item in tree recursive %}{{ item.n }}{% if item.c %}({{ loop(item.c) }}){% endif %}{% endfor %}", {"tree": [{"n": "a", "c": [{"n": "b", "c": []}, {"n": "c"}]}, {"n": "d"}]}),
    ("for_over_none", "{% for x in none %}{{ x }}{% endfor %}", {}),
    ("for_over_int", "{% for x in 3 %}{{ x }}{% endfor %}", {}),
    # scoping
    ("scope_set_in_for", "{% set y = 1 %}{% for x in xs %}{% set y = y + x %}{{ y }},{% endfor %}{{ y }}", BASE),
    ("scope_set_in_if", "{% if true %}{% set z = 5 %}{% endif %}{{ z }}", {}),
    ("scope_namespace", "{% set ns = namespace(total=0, items=[]) %}{% for x in xs %}{% set ns.total = ns.total + x %}{% endfor %}{{ ns.total }} {{ ns.items }} [{{ ns.missing }}] {{ ns.total is defined }} {{ ns.nope is defined }}", BASE),
    ("namespace_contains", "{% set ns = namespace(total=0) %}{{ 'total' in ns }}", {}),
    ("namespace_from_namespace", "{% set ns = namespace(a=1) %}{% set ns2 = namespace(ns) %}", {}),
    ("namespace_assign_non_ns", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("namespace_in_macro", "{% macro bump(ns) %}{% set ns.n = ns.n + 1 %}{% endmacro %}{% set c = namespace(n=0) %}{{ bump(c) }}{{ bump(c) }}{{ c.n }}", {}),
    ("loop_changed", "{% for x in [1, 1, 2, 2, 1] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}", {}),
    ("macro_in_loop", "{% for x in [1, 2] %}{% macro m() %}<{{ x }}>{% endmacro %}{{ m() }}{% endfor %}", {}),
    ("macro_top_sees_loop_var", "{% macro m() %}[{{ x }}]{% endmacro %}{% for x in [1] %}{{ m() }}{% endfor %}", {}),
    ("macro_default_refs_param", "{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(3) }}", {}),
    ("macro_infinite_recursion", "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", {}),
    ("set_from_context", "{% set n = n + 1 %}{{ n }}", BASE),
    ("precedence", "{{ not 'a' in 'abc' }} {{ 2 * 3 ~ 'x' }} {{ 1 + 2 * 3 ** 2 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ 10 - 2 - 3 }} {{ 2 ** -1 }} {{ 'x' if false else 'y' ~ 'z' }} {{ xs|length * 2 }} {{ -xs|length }}", BASE),
    ("precedence_concat_plus", "{{ 1 + 2 ~ 'x' }}", {}),
    ("cond_with_filter", "{{ s|trim if s else 'n' }}|{{ (e or 'd')|upper }}|{{ none if true }}|{{ [1, 2] if xs else [] }}", BASE),
    ("defined_checks", "{{ d.missing is defined }} {{ d.b is defined }} {{ users[0].x.y is defined }} {{ xs[7] is defined }} {{ s.missing is defined }} {{ none.x is defined }}", BASE),
    ("defined_on_undefined_attr", "{{ q.x is defined }}", {}),
    ("unicode_strip_compare", "[{{ '\u3000x\u00a0'.strip() }}] {{ 'é' > 'z' }} {{ ['b', 'é', 'a']|sort }} {{ 'Straße'|upper }} {{ 'ǅ'.lower() }}", {}),
    ("tojson_unicode_nested", "{{ {'ключ': ['значение', '😀'], 'n': 1.5}|tojson }} {{ {'ключ': '😀'}|tojson(ensure_ascii=true) }} {{ 'x'|tojson|safe }}", {}),
    ("join_variants", "{{ d|join(',') }} {{ 'abc'|join('-') }} {{ [1, none, true]|join }} {{ users|join(', ', attribute='name') }}", BASE),
    ("sort_mixed_error", "{{ [1, 'a']|sort }}", {}),
    ("items_loop_filter", "{% for k, v in {'a': 0, 'b': 2, 'c': none}.items() if v %}{{ k }}{% endfor %}", {}),
    ("string_attr_missing", "[{{ s.nope }}][{{ n.real }}]", BASE),
    ("ws_mixed_control", "<a>\n  {%- for x in [1, 2] %}\n    {{- x }}\n  {%- endfor %}\n</a>\n{% if true -%}\n  kept\n{%- endif %}\n\nend", {}),
    ("ws_blank_lines", "{% if true %}\n\nA\n\n{% endif %}\n\nB{% if false %}x{% else %}\n  C\n{% endif %}", {}),
    ("ws_inline_blocks", "x {% if true %} y {% endif %} z\n  {% for i in [1] %}{{ i }}{% endfor %}  \n", {}),
    ("ws_comment_lines", "{#- leading -#}\nA\n  {# indented comment #}\n  B {# trailing #}\n{#- x #}\nC", {}),
    ("format_method_specs", "{{ '{:>5}|{:<4}|{:^6}|{:05d}|{:.3f}|{:,}|{:+d}|{:x}|{!r}'.format('ab', 'c', 'mid', 42, 3.14159, 1234567, 5, 255, 'q') }}", {}),
    ("percent_dict", "{{ '%(a)s-%(b)d' % {'a': 'x', 'b': 3} }} {{ '%5.1f|%-6d|%+d' % (2.25, 7, 3) }} {{ '%s' % [1, 2] }} {{ '%s and %s' % ('a', 'b') }}", {}),
    ("first_last_empty", "[{{ []|first }}][{{ []|last }}][{{ ''|first }}][{{ []|max }}]", {}),
    ("int_float_filters_edge", "{{ '  -7 '|int }} {{ '1_000'|int }} {{ '3.99'|int }} {{ none|int }} {{ 'inf'|float }} {{ '-1.5e-3'|float }} {{ '0b101'|int(0, 0) }} {{ '12abc'|int(-1) }}", {}),
    ("getitem_fallbacks", "{{ d['items'] is defined }} {{ d.get('a')|length }} {{ users[0]['age'] + users[1].age }} {{ {'items': 5}['items'] }} {{ {'items': 5}.items()|list }}", BASE),
    ("message_patterns", "{% for m in messages %}{% if m['role'] == 'user' %}U:{{ m['content'] }}{% elif m.role == 'assistant' and m.tool_calls is defined %}{% for tc in m.tool_calls %}{{ tc.function.name }}({{ tc.function.arguments|tojson }}){% endfor %}{% endif %}{% if not loop.last %}|{% endif %}{% endfor %}", {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"x": [1, 2.0], "y": "é"}}}]}]}),
    ("reverse_loop_index", "{% for m in xs[::-1] %}{{ (xs|length - 1) - loop.index0 }}:{{ m }} {% endfor %}", BASE),
    ("nested_macro_caller", "{% macro outer() %}[{{ caller() }}]{% endmacro %}{% macro inner() %}({{ caller() }}){% endmacro %}{% call outer() %}{% call inner() %}core{% endcall %}{% endcall %}", {}),
    ("strip_chars_unicode", "{{ '——x——'.strip('—') }} {{ 'aXbXc'.split('X') }} {{ 'a\tb\nc  d'.split() }} {{ ' a b '.split(' ') }} {{ 'a\r\nb\rc\n'.splitlines() }}", {}),
    ("title_variants", "{{ \"they're bill's o'neil\"|title }} {{ \"they're bill's\".title() }} {{ 'hello-world (foo) [bar]'|title }} {{ 'ǆemal'|title }}", {}),

    ("namespace_underscore", "{% set ns = namespace() %}{% set ns._x = 1 %}", {}),
    ("namespace_kwargs_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns }}", {}),
    ("scope_loop_carry", "{% for i in [1, 2, 3] %}{% if i > 1 %}[{{ prev }}]{% endif %}{% set prev = i %}{% endfor %}", {}),
    ("scope_outer_visible", "{% set a = 1 %}{% for i in [1] %}{{ a }}{% set a = 2 %}{{ a }}{% endfor %}{{ a }}", {}),
    ("scope_macro_sees_later_global", "{% macro m() %}{{ g }}{% endmacro %}{% set g = 'late' %}{{ m() }}", {}),
    ("scope_macro_no_leak", "{% macro m() %}{% set inner = 1 %}{% endmacro %}{{ m() }}[{{ inner }}]", {}),
    ("scope_set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c }}", {}),
    ("scope_set_block", "{% set blk %}inside {{ n }}{% endset %}[{{ blk }}]{% set up | upper %}shout{% endset %}{{ up }}", BASE),
    ("scope_set_messages", "{% set messages = messages[1:] %}{{ messages|length }}", {"messages": [1, 2, 3]}),
    ("with_stmt", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    # macros and call
    ("macro_defaults", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(name='c') }} {{ greet(punct='.', name='d') }}", {}),
    ("macro_varargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}", {}),
    ("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}][{{ b }}]{% endmacro %}{{ m(1) }}", {}),
    ("macro_too_many", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", {}),
    ("macro_recursion", "{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * fact(k - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("macro_returns_string", "{% macro m() %}  x  {% endmacro %}[{{ m() }}][{{ m()|trim }}][{{ m()|length }}][{{ m() is string }}]", {}),
    ("macro_caller", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ n }}{% endcall %}{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(item) each([1, 2]) %}<{{ item }}>{% endcall %}", BASE),
    ("macro_attributes", "{% macro m(a, b=1) %}{% endmacro %}{{ m.name }} {{ m.arguments }}", {}),
    ("filter_block", "{% filter upper %}hello {{ n }}{% endfilter %}{% filter replace('a', 'o') | upper %}banana{% endfilter %}", BASE),
    # whitespace control
    ("ws_trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter", {}),
    ("ws_lstrip_blocks", "<ul>\n    {% for x in [1, 2] %}\n    <li>{{ x }}</li>\n    {% endfor %}\n</ul>", {}),
    ("ws_minus", "a   {{- 'b' -}}   c\n  {%- if true -%}  d  {%- endif -%}  e", {}),
    ("ws_plus", "x\n    {%+ if true %}y{% endif +%}\nz", {}),
    ("ws_comment", "a\n  {# comment #}\nb{#- c -#}  c\n{# multi\nline #}d", {}),
    ("ws_var_not_lstripped", "a\n    {{ 'b' }}\n    {% if true %}c{% endif %}", {}),
    ("ws_trailing_newline", "x\n", {}),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("ws_tabs_lstrip", "a\n\t \t{% if true %}b{% endif %}", {}),
    ("ws_lstrip_text_before", "a {% if true %}b{% endif %}", {}),
    ("raw_block", "{% raw %}{{ not rendered }} {% if %}{% endraw %}|", {}),
    ("ws_minus_comment_start", "a  {#- x #}b", {}),
    ("ws_start_of_template", "   {% if true %}x{% endif %}", {}),
    # globals
    ("raise_exception", "{{ raise_exception('Bad input: ' ~ n) }}", BASE),
    ("strftime_now", "{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%d %B %Y') }}|{{ strftime_now('%A %a %b %j %p %I %y %%') }}", {}),
    ("range_limits", "{{ range(3) }} {{ range(2, 5)|list }} {{ range(0)|list }} {{ range(10)|length }}", {}),
    ("range_too_big", "{{ range(200000)|length }}", {}),
    ("dict_global", "{{ dict(a=1) }} {{ dict([('x', 1)]) }} {{ dict() }}", {}),
    ("lipsum_joiner_cycler", "{% set j = joiner(', ') %}{% for x in [1, 2, 3] %}{{ j() }}{{ x }}{% endfor %}|{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}", {}),
    # error handling and syntax
    ("syntax_error_unclosed", "{% if true %}x", {}),
    ("syntax_error_expr", "{{ 1 + }}", {}),
    ("syntax_error_unknown_tag", "{% frobnicate %}", {}),
    ("syntax_error_endfor", "{% for x in y %}{% endif %}", {}),
    ("call_undefined", "{{ nothing() }}", {}),
    ("call_non_callable", "{{ n() }}", BASE),
    ("getitem_int_on_str_key", "{{ d[0] }}|", BASE),
    ("filter_on_call_result", "{{ users|map(attribute='name')|list|join(', ')|upper }}", BASE),
    ("generation_block", "{% generation %}gen {{ n }}{% endgeneration %}", BASE),
    ("nested_data_structures", "{% set cfg = {'a': {'b': [1, {'c': 'deep'}]}} %}{{ cfg.a.b[1].c }} {{ cfg['a']['b'][0] }} {{ cfg.a.b|length }}", {}),
    ("string_concat_implicit", "{{ 'a' 'b' \"c\" }}", {}),
    ("is_string_of_markup", "{{ ('x'|safe) is string }} {{ ('<'|safe) ~ '<' }} {{ ('<'|safe) + '<' }}", {}),
    ("int_float_equality_keys", "{{ {1: 'a'}[1.0] }} {{ {true: 'x'}[1] }}", {}),
    ("items_of_list_error", "{{ xs.items() }}", BASE),
    ("deep_list_repr", "{{ [[1, [2, [3, {'k': (4, 5)}]]]] }}", {}),
    ("bool_ops_render", "{{ t }} {{ t and 1 }} {{ [] or {} }} {{ 0.0 or 'z' }}", BASE),
    ("loop_controls_in_if_in_for", "{% for x in [1, 2, 3, 4] %}{% if x is even %}{% continue %}{% else %}{{ x }}{% endif %}{% endfor %}", {}),
    ("selectattr_nested", "{{ users|selectattr('x.y', 'eq', 2)|map(attribute='name')|list }}", BASE),
    ("string_multiply_neg", "[{{ 'ab' * -1 }}][{{ [1] * 0 }}]", {}),
    ("floordiv_mod_floats", "{{ -7 // 2 }} {{ -7 % 2 }} {{ -7.5 // 2 }} {{ -7.5 % 2 }} {{ 7 // -2.0 }} {{ 2 ** 0.5 }} {{ 10 / 4 }} {{ 4 / 2 }}", {}),
    ("round_half_even", "{{ 0.5|round }} {{ 1.5|round }} {{ 2.675|round(2) }} {{ -2.5|round }} {{ 1234.5678|round(-2) }}", {}),
]


def main():
    os.makedirs(ORACLE, exist_ok=True)
    names = sorted(f[:-6] for f in os.listdir(TEMPLATES) if f.endswith(".jinja"))
    renders = []
    for name in names:
        with open(os.path.join(TEMPLATES, name + ".jinja"), encoding="utf-8") as fh:
            source = fh.read()
        for convo_id, convo in CONVERSATIONS:
            record = {"template": name, "conversation": convo_id,
                      "special_tokens": SPECIAL_TOKENS.get(name, {}), "inputs": convo}
            try:
                record["expected"] = render_conversation(source, name, convo)
            except Exception as exc:  # the Swift side must fail the same way
                record["error"] = error_record(exc)
            renders.append(record)
    snippets = []
    for snip_id, source, ctx in SNIPPETS:
        record = {"name": snip_id, "template": source, "context": ctx}
        try:
            record["expected"] = compile_env_template(source).render(**json.loads(json.dumps(ctx)))
        except Exception as exc:
            record["error"] = error_record(exc)
        snippets.append(record)
    meta = {"transformers": transformers.__version__, "jinja2": jinja2.__version__,
            "python": sys.version.split()[0], "fixed_now": FIXED_NOW.isoformat()}
    with open(os.path.join(ORACLE, "renders.json"), "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "renders": renders}, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    with open(os.path.join(ORACLE, "snippets.json"), "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "snippets": snippets}, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    ok = sum("expected" in r for r in renders)
    print(f"renders: {len(renders)} ({ok} rendered, {len(renders) - ok} errors); snippets: {len(snippets)}")


if __name__ == "__main__":
    main()
