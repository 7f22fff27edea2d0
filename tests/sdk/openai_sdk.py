"""Drives Cairn with the official OpenAI Python SDK, unchanged but for base_url and api_key.
Prints one JSON object with what each call returned; tests/api/sdk.rs checks it."""

import json
import sys

from openai import OpenAI

base_url, api_key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
out = {}

reply = client.chat.completions.create(
    model="cheap", messages=[{"role": "user", "content": "hi"}], max_tokens=20
)
out["chat"] = {"model": reply.model, "content": reply.choices[0].message.content,
               "total_tokens": reply.usage.total_tokens}

chunks = client.chat.completions.create(
    model="cheap", messages=[{"role": "user", "content": "hi"}], stream=True,
    stream_options={"include_usage": True},
)
text, usage = "", None
for chunk in chunks:
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
    if chunk.usage:
        usage = chunk.usage.completion_tokens
out["stream"] = {"text": text, "completion_tokens": usage}

out["models"] = [m.id for m in client.models.list()]

emb = client.embeddings.create(model="all-MiniLM-L6-v2", input=["hello", "world"])
out["embeddings"] = {"count": len(emb.data), "dim": len(emb.data[0].embedding)}

try:
    client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    out["error"] = None
except Exception as e:  # the SDK's typed error, parsed from Cairn's OpenAI-shaped body
    out["error"] = {"type": type(e).__name__, "status": getattr(e, "status_code", None)}

print(json.dumps(out))
