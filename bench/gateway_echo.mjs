// One side of the gateway benchmark: the TypeScript SDK client calling
// server-everything's echo N times, straight or through `osvm mcp serve`,
// over stdio or Streamable HTTP. Prints one JSON line.
// usage: node gateway_echo.mjs PEERS_DIR stdio TOOL N CMD ARGS...
//        node gateway_echo.mjs PEERS_DIR http TOOL N URL [TOKEN] [PID]
import { pathToFileURL } from "node:url";
import fs from "node:fs";

const [peers, kind, tool, count, ...rest] = process.argv.slice(2);
const sdk = (p) => import(pathToFileURL(`${peers}/node_modules/@modelcontextprotocol/sdk/dist/esm/${p}`).href);
const { Client } = await sdk("client/index.js");
const n = Number(count);
const WARMUP = 30;
let transport;
if (kind === "stdio") {
  const { StdioClientTransport } = await sdk("client/stdio.js");
  transport = new StdioClientTransport({ command: rest[0], args: rest.slice(1), env: process.env, stderr: "ignore" });
} else {
  const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
  const headers = rest[1] ? { Authorization: `Bearer ${rest[1]}` } : {};
  transport = new StreamableHTTPClientTransport(new URL(rest[0]), { requestInit: { headers } });
}
const client = new Client({ name: "gateway-bench", version: "1.0.0" });
await client.connect(transport);
const lat = [];
for (let i = -WARMUP; i < n; i++) {
  const t0 = process.hrtime.bigint();
  const r = await client.callTool({ name: tool, arguments: { message: "hello from the benchmark" } });
  const t1 = process.hrtime.bigint();
  if (r.content?.[0]?.text !== "Echo: hello from the benchmark") throw new Error(`bad answer: ${JSON.stringify(r)}`);
  if (i >= 0) lat.push(Number(t1 - t0) / 1e3);
}
// the server's (or the gateway's) resident memory, from /proc
const pid = kind === "stdio" ? transport.pid : Number(rest[2] || 0);
let rss_kb = null, hwm_kb = null, cpu_ms = null;
if (pid) {
  const st = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  rss_kb = Number(/VmRSS:\s+(\d+)/.exec(st)?.[1]);
  hwm_kb = Number(/VmHWM:\s+(\d+)/.exec(st)?.[1]);
  // its own CPU time (every thread; not its children's), user and system
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  cpu_ms = ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
await client.close();
lat.sort((a, b) => a - b);
console.log(JSON.stringify({
  transport: kind, tool, calls: n, mean_us: +(lat.reduce((a, b) => a + b, 0) / n).toFixed(1),
  p50_us: +lat[Math.floor(n / 2)].toFixed(1), p90_us: +lat[Math.floor(n * 0.9)].toFixed(1),
  p99_us: +lat[Math.floor((n - 1) * 0.99)].toFixed(1), rss_kb, hwm_kb, cpu_ms,
}));
