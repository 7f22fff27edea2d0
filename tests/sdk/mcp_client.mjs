// Drives Cairn's MCP server with the official TypeScript SDK (@modelcontextprotocol/sdk from
// npm) and prints what it saw as one JSON object, in the shape of mcp_client.py's, for
// tests/api/mcp.rs to check.
//
//   node mcp_client.mjs http URL KEY WEAK_KEY
//   node mcp_client.mjs stdio CAIRN_BIN URL KEY WEAK_KEY

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

function transport(mode, args, key) {
  if (mode === "http") {
    return new StreamableHTTPClientTransport(new URL(`${args[0]}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    });
  }
  return new StdioClientTransport({
    command: args[0],
    args: ["mcp", "--url", args[1], "--key", key],
    stderr: "inherit",
  });
}

async function connect(mode, args, key) {
  const client = new Client({ name: "cairn-test", version: "1.0.0" });
  await client.connect(transport(mode, args, key));
  return client;
}

const textOf = (r) => r.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");

async function call(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  return { is_error: Boolean(r.isError), text: textOf(r), structured: r.structuredContent ?? null };
}

async function scenario(mode, args, key, weakKey) {
  const report = {};
  const s = await connect(mode, args, key);
  report.server = s.getServerVersion().name;
  const tools = (await s.listTools()).tools;
  report.tools = tools.map((t) => t.name).sort();
  report.schemas = Object.fromEntries(tools.map((t) => [t.name, t.inputSchema]));
  const calls = {};
  calls.add_source = await call(s, "add_source", {
    title: "Refund policy",
    text: "Refunds above 500 EUR need a manager's approval. Refunds are paid within 14 days.",
  });
  calls.remember = await call(s, "remember", {
    content: "Dana prefers invoices in EUR.", kind: "preference", tags: ["billing"],
  });
  const noteId = calls.remember.structured?.id;
  calls.get_note = await call(s, "get_note", { id: noteId });
  calls.search = await call(s, "search", { query: "refund approval manager" });
  calls.context_pack = await call(s, "context_pack", { query: "Which currency does Dana want invoices in?" });
  calls.feedback = await call(s, "feedback", { trace_id: calls.context_pack.structured?.trace_id, rating: 4 });
  calls.check_action = await call(s, "check_action", {
    app: "billing-agent", tool_ref: "stripe.refund", action_type: "payment", requested_amount_usd: 20,
  });
  calls.report_action = await call(s, "report_action", {
    event: "executed", tool_ref: "stripe.refund", action_type: "payment", amount_usd: 20,
  });
  calls.bad_argument = await call(s, "context_pack", { budget: 100 });
  calls.unknown_field = await call(s, "remember", { content: "x", colour: "red" });
  report.resources = [];
  let cursor;
  do {
    const page = await s.listResources(cursor ? { cursor } : undefined);
    report.resources.push(...page.resources.map((r) => r.uri));
    cursor = page.nextCursor;
  } while (cursor);
  const read = await s.readResource({ uri: `cairn://notes/${noteId}` });
  report.note_resource = JSON.parse(read.contents[0].text);
  const doc = report.resources.find((u) => u.startsWith("cairn://documents/"));
  report.document_resource = (await s.readResource({ uri: doc })).contents[0].text;
  const prompt = await s.getPrompt({ name: "answer_with_memory", arguments: { question: "Which currency does Dana want?" } });
  report.prompt = prompt.messages[0].content.text;
  calls.forget = await call(s, "forget", { id: noteId, reason: "test" });
  report.calls = calls;
  await s.close();
  const weak = await connect(mode, args, weakKey);
  report.weak_remember = await call(weak, "remember", { content: "should not be written" });
  report.weak_context_pack = await call(weak, "context_pack", { query: "anything" });
  await weak.close();
  return report;
}

const [mode, ...rest] = process.argv.slice(2);
const [key, weakKey] = rest.slice(-2);
const report = await scenario(mode, rest.slice(0, -2), key, weakKey);
process.stdout.write(JSON.stringify(report) + "\n");
