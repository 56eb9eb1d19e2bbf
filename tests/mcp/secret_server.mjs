// A Node MCP server (no dependencies) for the secret tests, run in osvm's
// sandbox. Its variable TOKEN holds what osvm gave it: a placeholder.
//   fetch {url, where, method}  sends TOKEN with Node's fetch (the proxy from
//         the environment: NODE_USE_ENV_PROXY), where = "header" (as
//         Authorization: Bearer), "xheader" (as X-Other), "query" (?t=), "body";
//         answers "STATUS <code> <body>" or "FAILED <why>"
//   look  everything it can read that may hold the value: its environment,
//         /proc/self/environ, /proc/1/environ, /proc/self/cmdline and the files
//         under /tmp, /etc/osvm-session-ca and $HOME
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";

function send(msg) {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

function text(id, t) {
  send({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text: t }] } });
}

async function doFetch(args) {
  const token = process.env.TOKEN || "";
  let url = args.url;
  const headers = {};
  let body;
  if (args.where === "header") headers["Authorization"] = "Bearer " + token;
  if (args.where === "xheader") headers["X-Other"] = token;
  if (args.where === "query") url += (url.includes("?") ? "&" : "?") + "t=" + token;
  if (args.where === "body") {
    body = JSON.stringify({ token });
    headers["Content-Type"] = "application/json";
  }
  try {
    const r = await fetch(url, { method: args.method || (body ? "POST" : "GET"), headers, body });
    return `STATUS ${r.status} ${await r.text()}`;
  } catch (e) {
    return `FAILED ${e.message} ${e.cause ? e.cause.message || e.cause.code : ""}`;
  }
}

function walk(dir, out, depth = 0) {
  let names = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    let st;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory() && depth < 4) walk(p, out, depth + 1);
    else if (st.isFile() && st.size < 1 << 20) {
      try {
        out.push(`--- ${p}\n` + fs.readFileSync(p, "latin1"));
      } catch {}
    }
  }
}

function look() {
  const out = ["TOKEN=" + (process.env.TOKEN || "")];
  out.push(JSON.stringify(process.env));
  for (const f of ["/proc/self/environ", "/proc/1/environ", "/proc/self/cmdline"]) {
    try {
      out.push(`--- ${f}\n` + fs.readFileSync(f, "latin1").replace(/\0/g, "\n"));
    } catch (e) {
      out.push(`--- ${f}: ${e.code}`);
    }
  }
  for (const d of ["/tmp", "/etc/osvm-session-ca", process.env.HOME || "/tmp"]) walk(d, out);
  return out.join("\n");
}

const tools = [
  { name: "fetch", description: "fetch with the token", inputSchema: { type: "object", properties: { url: { type: "string" }, where: { type: "string" }, method: { type: "string" } }, required: ["url", "where"] } },
  { name: "look", description: "look for the value", inputSchema: { type: "object", properties: {} } },
];

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let m;
  try {
    m = JSON.parse(line);
  } catch {
    return;
  }
  if (m.method === "initialize")
    send({ jsonrpc: "2.0", id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "secret-test", version: "1" } } });
  else if (m.method === "tools/list") send({ jsonrpc: "2.0", id: m.id, result: { tools } });
  else if (m.method === "tools/call") {
    const a = m.params.arguments || {};
    if (m.params.name === "fetch") text(m.id, await doFetch(a));
    else text(m.id, look());
  } else if (m.id !== undefined) send({ jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "no such method" } });
});
