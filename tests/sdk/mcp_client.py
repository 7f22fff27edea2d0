"""Drives Cairn's MCP server with the official Python SDK (`mcp` on PyPI) and prints what it saw
as one JSON object, for tests/api/mcp.rs to check.

    mcp_client.py http URL KEY WEAK_KEY        Streamable HTTP at URL/mcp
    mcp_client.py stdio CAIRN_BIN URL KEY WEAK_KEY   `cairn mcp --url URL --key KEY` as a child

KEY holds the runtime scopes; WEAK_KEY only memory:read (for the scope refusal).
"""

import asyncio
import json
import sys
from contextlib import asynccontextmanager

import mcp.types as types
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


@asynccontextmanager
async def connect(mode, args, key):
    if mode == "http":
        url = args[0]
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {key}"}) as http:
            async with streamable_http_client(f"{url}/mcp", http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    yield session
    else:
        binary, url = args[0], args[1]
        params = StdioServerParameters(command=binary, args=["mcp", "--url", url, "--key", key])
        async with stdio_client(params) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                yield session


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def call(session, name, arguments):
    r = await session.call_tool(name, arguments)
    return {"is_error": bool(r.is_error), "text": text_of(r), "structured": r.structured_content}


async def scenario(mode, args, key, weak_key):
    report = {}
    async with connect(mode, args, key) as s:
        init = await s.initialize()
        report["server"] = init.server_info.name
        report["protocol_version"] = init.protocol_version
        tools = await s.list_tools()
        report["tools"] = sorted(t.name for t in tools.tools)
        report["schemas"] = {t.name: t.input_schema for t in tools.tools}
        calls = {}
        calls["add_source"] = await call(s, "add_source", {
            "title": "Refund policy",
            "text": "Refunds above 500 EUR need a manager's approval. Refunds are paid within 14 days.",
        })
        calls["remember"] = await call(s, "remember", {
            "content": "Dana prefers invoices in EUR.", "kind": "preference", "tags": ["billing"]})
        note_id = (calls["remember"]["structured"] or {}).get("id")
        calls["get_note"] = await call(s, "get_note", {"id": note_id})
        calls["search"] = await call(s, "search", {"query": "refund approval manager"})
        calls["context_pack"] = await call(s, "context_pack", {"query": "Which currency does Dana want invoices in?"})
        trace_id = (calls["context_pack"]["structured"] or {}).get("trace_id")
        calls["feedback"] = await call(s, "feedback", {"trace_id": trace_id, "rating": 4})
        calls["check_action"] = await call(s, "check_action", {
            "app": "billing-agent", "tool_ref": "stripe.refund", "action_type": "payment",
            "requested_amount_usd": 20})
        calls["report_action"] = await call(s, "report_action", {
            "event": "executed", "tool_ref": "stripe.refund", "action_type": "payment", "amount_usd": 20})
        calls["bad_argument"] = await call(s, "context_pack", {"budget": 100})
        calls["unknown_field"] = await call(s, "remember", {"content": "x", "colour": "red"})
        uris, cursor = [], None
        while True:
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await s.list_resources(params=params)
            uris += [str(r.uri) for r in page.resources]
            cursor = page.next_cursor
            if not cursor:
                break
        report["resources"] = uris
        read = await s.read_resource(f"cairn://notes/{note_id}")
        report["note_resource"] = json.loads(read.contents[0].text)
        doc = next(u for u in uris if u.startswith("cairn://documents/"))
        report["document_resource"] = (await s.read_resource(doc)).contents[0].text
        prompt = await s.get_prompt("answer_with_memory", {"question": "Which currency does Dana want?"})
        report["prompt"] = prompt.messages[0].content.text
        calls["forget"] = await call(s, "forget", {"id": note_id, "reason": "test"})
        report["calls"] = calls
    async with connect(mode, args, weak_key) as s:
        await s.initialize()
        report["weak_remember"] = await call(s, "remember", {"content": "should not be written"})
        report["weak_context_pack"] = await call(s, "context_pack", {"query": "anything"})
    return report


def main():
    mode = sys.argv[1]
    rest = sys.argv[2:]
    key, weak_key = rest[-2], rest[-1]
    report = asyncio.run(scenario(mode, rest[:-2], key, weak_key))
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
