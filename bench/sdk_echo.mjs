// The other side of the MCP round-trip benchmark: the official TypeScript SDK
// client making the same calls as bench_mcp.c, printing the same JSON line.
// usage: node sdk_echo.mjs stdio SERVER_JS N | node sdk_echo.mjs http URL N
// (run with NODE_PATH pointing at the node_modules that holds the SDK)
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH || ".", "x.js"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");

const [kind, target, count] = process.argv.slice(2);
const n = Number(count);
const WARMUP = 20;
const transport = kind === "stdio"
  ? new StdioClientTransport({ command: "node", args: [target, "stdio"], stderr: "ignore" })
  : new StreamableHTTPClientTransport(new URL(target));
const client = new Client({ name: "sdk-bench", version: "1.0.0" });
await client.connect(transport);
const lat = [];
for (let i = -WARMUP; i < n; i++) {
  const t0 = process.hrtime.bigint();
  await client.callTool({ name: "echo", arguments: { message: "hello from the benchmark" } });
  const t1 = process.hrtime.bigint();
  if (i >= 0) lat.push(Number(t1 - t0) / 1e3);
}
await client.close();
const mean = lat.reduce((a, b) => a + b, 0) / n;
lat.sort((a, b) => a - b);
console.log(JSON.stringify({
  client: "sdk", transport: kind, calls: n, mean_us: +mean.toFixed(1),
  p50_us: +lat[Math.floor(n / 2)].toFixed(1), p99_us: +lat[Math.floor((n - 1) * 0.99)].toFixed(1),
  maxrss_kb: process.resourceUsage().maxRSS,
}));
