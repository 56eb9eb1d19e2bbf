// The TypeScript SDK's client (from npm) against `osvm mcp serve`: lists and
// calls through the gateway, cancels a long call, follows list_changed, and
// reads resources and prompts. Prints one JSON object of what it saw; the
// shell test (gateway.sh) asserts on it.
// usage: node gateway_client.mjs PEERS_DIR OSVM [ARGS...]     (stdio: OSVM mcp serve ARGS)
//        GW_URL=http://... GW_TOKEN=... node gateway_client.mjs PEERS_DIR   (Streamable HTTP)
import { pathToFileURL } from "node:url";

const [peers, osvm, ...args] = process.argv.slice(2);
const sdk = (p) => import(pathToFileURL(`${peers}/node_modules/@modelcontextprotocol/sdk/dist/esm/${p}`).href);
const { Client } = await sdk("client/index.js");
const { StdioClientTransport } = await sdk("client/stdio.js");
const { ToolListChangedNotificationSchema, LoggingMessageNotificationSchema } = await sdk("types.js");

const out = {};
const client = new Client({ name: "sdk-test", version: "1.0.0" });
let transport;
if (process.env.GW_URL) {
  const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
  transport = new StreamableHTTPClientTransport(new URL(process.env.GW_URL), {
    requestInit: { headers: { Authorization: `Bearer ${process.env.GW_TOKEN}` } },
  });
} else {
  transport = new StdioClientTransport({ command: osvm, args: ["mcp", "serve", ...args], env: process.env, stderr: "inherit" });
}
let changed = 0;
client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed++; });
const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params); });
await client.connect(transport);
out.server = client.getServerVersion();
out.capabilities = client.getServerCapabilities();
out.instructions = client.getInstructions();
const tools = (await client.listTools()).tools;
out.tools = tools.map((t) => t.name);
out.echo_meta = tools.find((t) => t.name === "ev__echo")?._meta ?? null;
const text = (r) => r.content?.[0]?.text;
out.ev_echo = text(await client.callTool({ name: "ev__echo", arguments: { message: "hello" } }));
if (out.tools.includes("peer__echo"))
  out.peer_echo = text(await client.callTool({ name: "peer__echo", arguments: { message: "hello" } }));

// A long call with progress; a ping and a second call meanwhile; then cancelled.
const ac = new AbortController();
let progress = 0;
let firstProgress;
const gotProgress = new Promise((r) => (firstProgress = r));
const long = client
  .callTool({ name: "ev__trigger-long-running-operation", arguments: { duration: 60, steps: 60 } }, undefined, {
    signal: ac.signal,
    timeout: 120000,
    onprogress: () => { progress++; firstProgress(); },
  })
  .then(() => "finished", (e) => `rejected: ${e.name}: ${e.message}`);
await gotProgress;
let longDone = false;
long.then(() => { longDone = true; });
await client.ping();
out.ping_while_long = !longDone;
out.echo_while_long = text(await client.callTool({ name: "ev__echo", arguments: { message: "meanwhile" } }));
out.long_still_running = !longDone;
out.progress_seen = progress;
ac.abort("the test cancels it");
out.long = await long;

// An unknown tool is a JSON-RPC error, -32602.
try {
  await client.callTool({ name: "ev__no-such-tool", arguments: {} });
  out.unknown = "no error";
} catch (e) {
  out.unknown = { code: e.code, message: e.message };
}

// list_changed: the peer adds a tool.
if (out.tools.includes("peer__add-tool")) {
  await client.callTool({ name: "peer__add-tool", arguments: {} });
  // (the bound only guards a hang: 60 s)
  for (let i = 0; i < 600 && !changed; i++) await new Promise((r) => setTimeout(r, 100));
  out.list_changed = changed;
  out.tools_after = (await client.listTools()).tools.map((t) => t.name).filter((n) => n.startsWith("peer__"));
  out.extra = text(await client.callTool({ name: "peer__extra", arguments: {} }));
}

// Resources, templates, prompts, completion, logging: passed through, qualified.
if (out.capabilities.resources) {
  const res = (await client.listResources()).resources;
  out.resources = res.length;
  out.resource_uri = res[0]?.uri;
  const read = await client.readResource({ uri: res[0].uri });
  out.read_uri = read.contents[0]?.uri;
  out.read_has_content = !!(read.contents[0]?.text || read.contents[0]?.blob);
  const tpl = (await client.listResourceTemplates()).resourceTemplates;
  out.template = tpl[0]?.uriTemplate;
  try {
    await client.readResource({ uri: "osvm-gw://nobody/x" });
    out.bad_uri = "no error";
  } catch (e) {
    out.bad_uri = e.code;
  }
}
if (out.capabilities.prompts) {
  const prompts = (await client.listPrompts()).prompts;
  out.prompts = prompts.map((p) => p.name);
  const simple = prompts.find((p) => p.name === "ev__simple-prompt") ?? prompts.find((p) => !(p.arguments?.length));
  if (simple) out.prompt_messages = (await client.getPrompt({ name: simple.name })).messages.length;
  const withArgs = prompts.find((p) => p.arguments?.length);
  if (withArgs && out.capabilities.completions) {
    try {
      const c = await client.complete({ ref: { type: "ref/prompt", name: withArgs.name }, argument: { name: withArgs.arguments[0].name, value: "" } });
      out.completion = Array.isArray(c.completion?.values);
    } catch (e) {
      out.completion = `error ${e.code}: ${e.message}`;
    }
  }
}
if (out.capabilities.logging) {
  await client.setLoggingLevel("debug");
  out.set_level = "ok";
  // a server's log messages reach the client, the server named as the logger
  if (out.tools.includes("ev__toggle-simulated-logging")) {
    await client.callTool({ name: "ev__toggle-simulated-logging", arguments: {} });
    // (the bound only guards a hang: 60 s)
    for (let i = 0; i < 600 && !logs.length; i++) await new Promise((r) => setTimeout(r, 100));
    out.log_logger = logs[0]?.logger ?? null;
    out.log_level = logs[0]?.level ?? null;
  }
}
out.session = transport.sessionId ?? null;
if (process.env.GW_URL) await transport.terminateSession();
await client.close();
console.log(JSON.stringify(out));
