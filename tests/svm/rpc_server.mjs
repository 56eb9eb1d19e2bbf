// A local Solana JSON-RPC endpoint for osvm's tests and benchmark, answered from
// an in-process LiteSVM (the npm package `litesvm`, pinned in tests/peers/install.sh).
//
// usage: node tests/svm/rpc_server.mjs --port P [--fail-mode MODE]
//        prints "READY <port>" on stdout once it listens on 127.0.0.1.
//
// POST /            JSON-RPC 2.0 (single or batch), see METHODS below
// GET  /health      "ok", as a real RPC node answers
// GET  /__requests  test-only: the JSON-RPC requests received (method, params, id,
//                   headers, mode), oldest first, the last 10000
// DELETE /__requests  test-only: forget them
// GET|POST /__mode  test-only: the failure mode, POST {"mode": "ok" | "garbage" |
//                   "slow:<ms>" | "status:<code>" | "close"}
//
// The packages come from tests/peers/node_modules_root (or $OSVM_PEERS_ROOT).
// See docs/testing.md.
import { createServer } from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { peersRequire as require, tokenAccount, tokenMint, parseTokenAccount, TOKEN_PROGRAM } from "./fixtures.mjs";

const litesvm = require("litesvm");
const kit = require("@solana/kit");
const system = require("@solana-program/system");
const { LiteSVM, Clock, FailedTransactionMetadata, FeatureSet } = litesvm;

const LITESVM_VERSION = require("litesvm/package.json").version;
const CORE_VERSION = `${LITESVM_VERSION}-litesvm`;
const SYSTEM_PROGRAM = "11111111111111111111111111111111";
const U64_MAX = 18446744073709551615n;
const b58 = kit.getBase58Decoder(); // bytes -> base58 text
const fromB58 = kit.getBase58Encoder(); // base58 text -> bytes
const addressBytes = kit.getAddressEncoder();

// ---- arguments ----

const args = process.argv.slice(2);
const opt = (name, dflt) => {
        const i = args.indexOf(name);
        return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(opt("--port", "0"));
let mode = opt("--fail-mode", "ok");

function checkMode(m) {
        if (typeof m === "string" && /^(ok|garbage|close|slow:\d+|status:[1-5]\d\d)$/.test(m)) return m;
        throw new Error(`bad mode ${JSON.stringify(m)}: ok, garbage, close, slow:<ms> or status:<code>`);
}
try {
        checkMode(mode);
} catch (e) {
        console.error(`rpc_server: ${e.message}`);
        process.exit(1);
}

// ---- the chain ----

// One slot per transaction, blockTime from the wall clock, epochs without warm-up.
const svm = new LiteSVM();
const SLOTS_PER_EPOCH = 432000n;
let slot = 1n;
const now = () => BigInt(Math.floor(Date.now() / 1000));
const genesisTime = now();
svm.setClock(new Clock(slot, genesisTime, 0n, 1n, genesisTime));

function nextSlot() {
        slot += 1n;
        const epoch = slot / SLOTS_PER_EPOCH;
        svm.setClock(new Clock(slot, genesisTime, epoch, epoch + 1n, now()));
}

// The faucet behind requestAirdrop: a keypair of ours with plenty of lamports,
// so that an airdrop is an ordinary recorded transfer.
const faucet = await keypair(randomBytes(32));
svm.setAccount({
        address: faucet.signer.address,
        lamports: 500_000_000_000_000_000n,
        programAddress: SYSTEM_PROGRAM,
        executable: false,
        data: new Uint8Array(0),
        space: 0n,
});

// The transactions sent through this server, by signature, in order.
const sent = new Map();

// A feature-set identifier like the real one: a u32 from the active features.
const featureSetId = (() => {
        const h = createHash("sha256");
        for (const f of FeatureSet.allEnabled().getActiveFeatures().map((b) => b58.decode(b)).sort()) h.update(f);
        return h.digest().readUInt32LE(0);
})();

// The error enums' names, from the package's own type declarations (they are
// const enums, gone at run time).
function enumNames(name) {
        const dts = readFileSync(join(dirname(require.resolve("litesvm")), "internal.d.ts"), "utf8");
        const body = dts.match(new RegExp(`const enum ${name} \\{([^}]*)\\}`));
        const names = [];
        for (const m of (body ? body[1] : "").matchAll(/(\w+) = (\d+)/g)) names[Number(m[2])] = m[1];
        return names;
}
const TX_ERRORS = enumNames("TransactionErrorFieldless");
const IX_ERRORS = enumNames("InstructionErrorFieldless");

// A LiteSVM error as the RPC's JSON shows a TransactionError.
function txError(e) {
        if (typeof e === "number") return TX_ERRORS[e] ?? e;
        switch (e.constructor.name) {
                case "TransactionErrorInstructionError": {
                        const ie = e.err();
                        let j = typeof ie === "number" ? IX_ERRORS[ie] ?? ie : null;
                        if (ie?.constructor?.name === "InstructionErrorCustom") j = { Custom: ie.code };
                        if (ie?.constructor?.name === "InstructionErrorBorshIo") j = { BorshIoError: ie.msg };
                        return { InstructionError: [e.index, j] };
                }
                case "TransactionErrorDuplicateInstruction":
                        return { DuplicateInstruction: e.index };
                default: // InsufficientFundsForRent, ProgramExecutionTemporarilyRestricted
                        return { [e.constructor.name.replace(/^TransactionError/, "")]: { account_index: e.accountIndex } };
        }
}

// ---- keys and transactions ----

// A signer from a 32-byte seed, with its 64-byte secret (seed then public key,
// the layout of a Solana CLI keypair file).
async function keypair(seed) {
        const signer = await kit.createKeyPairSignerFromPrivateKeyBytes(seed, true);
        const secret = new Uint8Array(64);
        secret.set(seed, 0);
        secret.set(addressBytes.encode(signer.address), 32);
        return { signer, secret };
}

// A secret key as base58 text or a JSON array of 64 (or 32) numbers.
async function keypairFromSecret(s) {
        const bytes = Array.isArray(s) ? Uint8Array.from(s) : fromB58.encode(String(s));
        if (bytes.length !== 64 && bytes.length !== 32) throw rpcError(-32602, "Invalid param: from_secret must be 64 bytes");
        const kp = await keypair(bytes.slice(0, 32));
        if (bytes.length === 64 && b58.decode(bytes.slice(32)) !== kp.signer.address)
                throw rpcError(-32602, "Invalid param: from_secret's public half does not match its seed");
        return kp;
}

async function transferTx(from, to, lamports) {
        const message = kit.pipe(
                kit.createTransactionMessage({ version: "legacy" }),
                (m) => kit.setTransactionMessageFeePayerSigner(from, m),
                (m) => kit.setTransactionMessageLifetimeUsingBlockhash(latestBlockhash(), m),
                (m) => kit.appendTransactionMessageInstruction(
                        system.getTransferSolInstruction({ source: from, destination: to, amount: lamports }), m),
        );
        return kit.signTransactionMessageWithSigners(message);
}

// Sends a system transfer signed here. An identical earlier transfer would have
// the same signature, so the blockhash moves on first when needed.
async function transfer(from, to, lamports) {
        let tx = await transferTx(from, to, lamports);
        if (sent.has(kit.getSignatureFromTransaction(tx))) {
                svm.expireBlockhash();
                tx = await transferTx(from, to, lamports);
        }
        return send(tx, false);
}

function latestBlockhash() {
        return { blockhash: svm.latestBlockhash(), lastValidBlockHeight: slot + 150n };
}

// Sends a transaction into the SVM and records it with the balances before and
// after. With preflight, a transaction that would fail is refused unrecorded,
// as the real RPC's simulation does.
function send(tx, preflight) {
        const message = kit.getCompiledTransactionMessageDecoder().decode(tx.messageBytes);
        const signature = kit.getSignatureFromTransaction(tx);
        if (preflight) {
                const sim = svm.simulateTransaction(tx);
                if (sim instanceof FailedTransactionMetadata) {
                        const err = txError(sim.err());
                        throw rpcError(-32002, `Transaction simulation failed: ${JSON.stringify(err)}`, {
                                err, logs: sim.meta().logs(), accounts: null,
                                unitsConsumed: sim.meta().computeUnitsConsumed(), returnData: null,
                        });
                }
        }
        const keys = message.staticAccounts;
        const balances = () => keys.map((k) => svm.getBalance(k) ?? 0n);
        const preBalances = balances();
        const result = svm.sendTransaction(tx);
        const failed = result instanceof FailedTransactionMetadata;
        const err = failed ? txError(result.err()) : null;
        const meta = failed ? result.meta() : result;
        const postBalances = balances();
        const fee = preBalances.reduce((a, b) => a + b, 0n) - postBalances.reduce((a, b) => a + b, 0n);
        // A failure that charged no fee (already processed, unknown blockhash,
        // no payer...) never lands in a block.
        if (failed && fee === 0n)
                throw rpcError(-32002, `Transaction simulation failed: ${JSON.stringify(err)}`, { err, logs: meta.logs() });
        sent.set(signature, {
                signature, slot, blockTime: svm.getClock().unixTimestamp, tx, message, err, fee,
                preBalances, postBalances, logs: meta.logs(), units: meta.computeUnitsConsumed(),
        });
        nextSlot();
        return signature;
}

// ---- RPC shapes ----

function rpcError(code, message, data) {
        const e = new Error(message);
        e.rpc = data === undefined ? { code, message } : { code, message, data };
        return e;
}

const withContext = (value) => ({ context: { slot, apiVersion: CORE_VERSION }, value });

function pubkeyParam(v) {
        if (typeof v !== "string") throw rpcError(-32602, "Invalid params: expected a base-58 public key string");
        if (!kit.isAddress(v)) throw rpcError(-32602, "Invalid param: Invalid");
        return v;
}

function account(addr, encoding) {
        const a = svm.getAccount(addr);
        if (!a.exists) return null;
        let data;
        const parsed = encoding === "jsonParsed" && a.programAddress === TOKEN_PROGRAM ? parseTokenAccount(a.data, svm) : null;
        if (parsed) data = parsed;
        else if (encoding === "base58") data = [b58.decode(a.data), "base58"];
        else if (encoding === undefined || encoding === "binary") data = b58.decode(a.data);
        else if (encoding === "base64" || encoding === "jsonParsed") data = [Buffer.from(a.data).toString("base64"), "base64"];
        else throw rpcError(-32602, `Invalid params: unknown variant \`${encoding}\``);
        return { data, executable: a.executable, lamports: a.lamports, owner: a.programAddress, rentEpoch: U64_MAX, space: a.space };
}

// A recorded transaction as getTransaction answers it ("json", "jsonParsed" or "base64").
function transactionResult(rec, encoding, maxVersion) {
        const { message } = rec;
        const version = message.version;
        if (version !== "legacy" && maxVersion === undefined)
                throw rpcError(-32015, `Transaction version (${version}) is not supported by the requesting client. ` +
                        `Please try again with the following configuration parameter: "maxSupportedTransactionVersion": 0`);
        const keys = message.staticAccounts;
        const h = message.header;
        const instructions = message.instructions.map((ix) => ({
                accounts: ix.accountIndices ?? [],
                data: b58.decode(ix.data ?? new Uint8Array(0)),
                programIdIndex: ix.programAddressIndex,
                stackHeight: null,
        }));
        let transaction;
        if (encoding === "base64") {
                transaction = [Buffer.from(kit.getTransactionEncoder().encode(rec.tx)).toString("base64"), "base64"];
        } else {
                const msg = {
                        accountKeys: keys,
                        header: {
                                numReadonlySignedAccounts: h.numReadonlySignerAccounts,
                                numReadonlyUnsignedAccounts: h.numReadonlyNonSignerAccounts,
                                numRequiredSignatures: h.numSignerAccounts,
                        },
                        instructions,
                        recentBlockhash: message.lifetimeToken,
                };
                if (encoding === "jsonParsed") {
                        msg.accountKeys = keys.map((pubkey, i) => ({
                                pubkey, signer: i < h.numSignerAccounts, source: "transaction", writable: isWritable(h, keys.length, i),
                        }));
                        msg.instructions = instructions.map((ix) => parsedInstruction(ix, keys));
                        delete msg.header;
                }
                if (version !== "legacy") msg.addressTableLookups = [];
                transaction = { message: msg, signatures: Object.values(rec.tx.signatures).map((b) => b58.decode(b)) };
        }
        const result = {
                blockTime: rec.blockTime,
                meta: {
                        computeUnitsConsumed: rec.units,
                        err: rec.err,
                        fee: rec.fee,
                        innerInstructions: [],
                        loadedAddresses: { readonly: [], writable: [] },
                        logMessages: rec.logs,
                        postBalances: rec.postBalances,
                        postTokenBalances: [],
                        preBalances: rec.preBalances,
                        preTokenBalances: [],
                        rewards: [],
                        status: rec.err === null ? { Ok: null } : { Err: rec.err },
                },
                slot: rec.slot,
                transaction,
        };
        if (maxVersion !== undefined) result.version = version;
        return result;
}

function isWritable(h, n, i) {
        if (i < h.numSignerAccounts) return i < h.numSignerAccounts - h.numReadonlySignerAccounts;
        return i < n - h.numReadonlyNonSignerAccounts;
}

// jsonParsed: system transfers parsed, anything else partially decoded.
function parsedInstruction(ix, keys) {
        const programId = keys[ix.programIdIndex];
        const raw = fromB58.encode(ix.data);
        if (programId === SYSTEM_PROGRAM && raw.length === 12 && Buffer.from(raw).readUInt32LE(0) === 2) {
                return {
                        parsed: {
                                info: { destination: keys[ix.accounts[1]], lamports: Buffer.from(raw).readBigUInt64LE(4), source: keys[ix.accounts[0]] },
                                type: "transfer",
                        },
                        program: "system", programId, stackHeight: null,
                };
        }
        return { accounts: ix.accounts.map((i) => keys[i]), data: ix.data, programId, stackHeight: null };
}

function signatureInfo(rec) {
        return { blockTime: rec.blockTime, confirmationStatus: "finalized", err: rec.err, memo: null, signature: rec.signature, slot: rec.slot };
}

// By-position params, or by-name for the test-only methods.
const cfg = (params, i) => (params[i] && typeof params[i] === "object" ? params[i] : {});

// ---- the methods ----

const METHODS = {
        getHealth: () => "ok",
        getVersion: () => ({ "feature-set": featureSetId, "solana-core": CORE_VERSION }),
        getSlot: () => slot,
        getBlockHeight: () => slot,
        getTransactionCount: () => BigInt(sent.size),
        getEpochInfo: () => ({
                absoluteSlot: slot, blockHeight: slot, epoch: slot / SLOTS_PER_EPOCH,
                slotIndex: slot % SLOTS_PER_EPOCH, slotsInEpoch: SLOTS_PER_EPOCH, transactionCount: BigInt(sent.size),
        }),
        getLatestBlockhash: () => withContext(latestBlockhash()),
        getMinimumBalanceForRentExemption: (p) => svm.minimumBalanceForRentExemption(BigInt(p[0] ?? 0)),
        getBalance: (p) => withContext(svm.getBalance(pubkeyParam(p[0])) ?? 0n),
        getAccountInfo: (p) => withContext(account(pubkeyParam(p[0]), cfg(p, 1).encoding)),
        getMultipleAccounts: (p) => {
                if (!Array.isArray(p[0])) throw rpcError(-32602, "Invalid params: expected an array of public keys");
                return withContext(p[0].map((k) => account(pubkeyParam(k), cfg(p, 1).encoding)));
        },
        getTokenAccountsByOwner: (p) => {
                const owner = pubkeyParam(p[0]);
                const filter = cfg(p, 1);
                if (!filter.mint && !filter.programId)
                        throw rpcError(-32602, "Invalid params: expected {\"mint\": ...} or {\"programId\": ...}");
                if (filter.programId && pubkeyParam(filter.programId) !== TOKEN_PROGRAM) return withContext([]);
                const mint = filter.mint ? pubkeyParam(filter.mint) : null;
                const value = svm.getProgramAccounts(TOKEN_PROGRAM)
                        .filter((a) => a.data.length === 165 && b58.decode(a.data.slice(32, 64)) === owner)
                        .filter((a) => mint === null || b58.decode(a.data.slice(0, 32)) === mint)
                        .map((a) => ({ account: account(a.address, cfg(p, 2).encoding), pubkey: a.address }));
                return withContext(value);
        },
        getTransaction: (p) => {
                const c = typeof p[1] === "string" ? { encoding: p[1] } : cfg(p, 1);
                const enc = c.encoding ?? "json";
                if (!["json", "jsonParsed", "base64"].includes(enc)) throw rpcError(-32602, `Invalid params: unsupported encoding ${enc}`);
                const rec = sent.get(String(p[0]));
                return rec ? transactionResult(rec, enc, c.maxSupportedTransactionVersion) : null;
        },
        getSignaturesForAddress: (p) => {
                const addr = pubkeyParam(p[0]);
                const c = cfg(p, 1);
                const limit = c.limit ?? 1000;
                if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw rpcError(-32602, "Invalid limit; max 1000");
                let list = [...sent.values()].filter((r) => r.message.staticAccounts.includes(addr)).reverse();
                if (c.before) list = list.slice(list.findIndex((r) => r.signature === c.before) + 1 || list.length);
                if (c.until) {
                        const i = list.findIndex((r) => r.signature === c.until);
                        if (i >= 0) list = list.slice(0, i);
                }
                return list.slice(0, limit).map(signatureInfo);
        },
        getSignatureStatuses: (p) => withContext((p[0] ?? []).map((s) => {
                const r = sent.get(s);
                return r ? { confirmationStatus: "finalized", confirmations: null, err: r.err, slot: r.slot, status: r.err === null ? { Ok: null } : { Err: r.err } } : null;
        })),
        sendTransaction: (p) => {
                const c = cfg(p, 1);
                const enc = c.encoding ?? "base58";
                const wire = enc === "base64" ? Buffer.from(String(p[0]), "base64") : fromB58.encode(String(p[0]));
                let tx;
                try {
                        tx = kit.getTransactionDecoder().decode(wire);
                } catch (e) {
                        throw rpcError(-32602, `invalid transaction: failed to deserialize: ${e.message}`);
                }
                return send(tx, !c.skipPreflight);
        },
        // A real RPC answers a signature; so does this one, from a transfer out of a faucet.
        requestAirdrop: async (p) => {
                const to = pubkeyParam(p[0]);
                if (typeof p[1] !== "number" || !Number.isSafeInteger(p[1]) || p[1] <= 0) throw rpcError(-32602, "Invalid params: lamports");
                return transfer(faucet.signer, to, BigInt(p[1]));
        },

        // ---- test-only ----

        // {lamports?} -> a new keypair (funded when lamports is given):
        // {address, secretKey (base58 of 64 bytes), secretKeyBytes, signature?}
        osvmTestKeypair: async (p) => {
                const c = cfg(p, 0);
                const kp = await keypair(randomBytes(32));
                const out = { address: kp.signer.address, secretKey: b58.decode(kp.secret), secretKeyBytes: [...kp.secret] };
                if (c.lamports) out.signature = await transfer(faucet.signer, kp.signer.address, BigInt(c.lamports));
                return out;
        },
        // {from_secret?, to, lamports} -> a system transfer signed and sent here:
        // {signature, from, to, lamports, slot, funding_signature?}. Without
        // from_secret the sender is a new keypair funded with lamports + 1 SOL first.
        osvmTestTransfer: async (p) => {
                const c = cfg(p, 0);
                const to = pubkeyParam(c.to);
                if (!Number.isSafeInteger(c.lamports) || c.lamports <= 0) throw rpcError(-32602, "Invalid params: lamports");
                const lamports = BigInt(c.lamports);
                let from, funding;
                if (c.from_secret !== undefined) from = (await keypairFromSecret(c.from_secret)).signer;
                else {
                        from = (await keypair(randomBytes(32))).signer;
                        funding = await transfer(faucet.signer, from.address, lamports + 1_000_000_000n);
                }
                const txSlot = slot;
                const signature = await transfer(from, to, lamports);
                const out = { from: from.address, lamports, signature, slot: txSlot, to };
                if (funding) out.funding_signature = funding;
                return out;
        },
        // {owner, amount, decimals?} -> an SPL token mint and a token account of
        // owner's holding amount, written straight into the SVM: {mint, account}.
        osvmTestTokenAccount: async (p) => {
                const c = cfg(p, 0);
                const owner = pubkeyParam(c.owner);
                const mint = (await keypair(randomBytes(32))).signer.address;
                const acct = (await keypair(randomBytes(32))).signer.address;
                const amount = BigInt(c.amount ?? 0);
                const decimals = c.decimals ?? 6;
                const rent = (n) => svm.minimumBalanceForRentExemption(BigInt(n));
                svm.setAccount(tokenMint(mint, amount, decimals, faucet.signer.address, rent(82)));
                svm.setAccount(tokenAccount(acct, mint, owner, amount, rent(165)));
                return { account: acct, mint };
        },
};

// ---- HTTP ----

const requests = []; // the last MAX_LOG requests
const MAX_LOG = 10000;

// JSON with u64 values exact: BigInts go out as bare numbers.
const toJson = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `\u0000${x}` : x)).replace(/"\\u0000(\d+)"/g, "$1");

async function answer(req) {
        const id = req && typeof req === "object" && "id" in req ? req.id : null;
        if (!req || typeof req !== "object" || req.jsonrpc !== "2.0" || typeof req.method !== "string")
                return { jsonrpc: "2.0", error: { code: -32600, message: "Invalid request" }, id };
        const fn = Object.hasOwn(METHODS, req.method) ? METHODS[req.method] : null;
        if (!fn) return { jsonrpc: "2.0", error: { code: -32601, message: "Method not found" }, id };
        const params = req.params === undefined ? [] : Array.isArray(req.params) ? req.params : [req.params];
        try {
                return { jsonrpc: "2.0", result: await fn(params), id };
        } catch (e) {
                if (e.rpc) return { jsonrpc: "2.0", error: e.rpc, id };
                return { jsonrpc: "2.0", error: { code: -32603, message: `Internal error: ${e.message}` }, id };
        }
}

function reply(res, status, body, type = "application/json") {
        res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
        res.end(body);
}

const server = createServer((req, res) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")).catch((e) => {
                if (!res.headersSent) reply(res, 500, `rpc_server: ${e.message}\n`, "text/plain");
        }));
});

async function handle(req, res, text) {
        const path = req.url.split("?")[0];
        if (path === "/__requests") {
                if (req.method === "DELETE") requests.length = 0;
                return reply(res, 200, toJson(requests));
        }
        if (path === "/__mode") {
                if (req.method === "POST") {
                        try {
                                mode = checkMode(JSON.parse(text).mode);
                        } catch (e) {
                                return reply(res, 400, toJson({ error: e.message }));
                        }
                }
                return reply(res, 200, toJson({ mode }));
        }
        if (path === "/health" && req.method === "GET") return reply(res, 200, "ok", "text/plain");
        if (path !== "/" || req.method !== "POST") return reply(res, 404, "not found\n", "text/plain");

        let body;
        try {
                body = JSON.parse(text);
        } catch {
                body = undefined;
        }
        for (const r of Array.isArray(body) ? body : [body ?? { raw: text }])
                requests.push({ method: r?.method ?? null, params: r?.params ?? null, id: r?.id ?? null, headers: req.headers, mode });
        if (requests.length > MAX_LOG) requests.splice(0, requests.length - MAX_LOG);

        if (mode === "close") return req.socket.destroy();
        if (mode === "garbage") return reply(res, 200, "<html>this is not JSON {\"jsonrpc\": \n", "application/json");
        if (mode.startsWith("status:")) {
                const code = Number(mode.slice(7));
                return reply(res, code, `forced HTTP status ${code}\n`, "text/plain");
        }
        if (mode.startsWith("slow:")) await new Promise((r) => setTimeout(r, Number(mode.slice(5))));

        let out;
        if (body === undefined) out = { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null };
        else if (Array.isArray(body) && body.length) {
                out = [];
                for (const r of body) out.push(await answer(r));
        } else if (Array.isArray(body)) out = { jsonrpc: "2.0", error: { code: -32600, message: "Invalid request" }, id: null };
        else out = await answer(body);
        if (!res.destroyed) reply(res, 200, toJson(out));
}

server.on("error", (e) => {
        console.error(`rpc_server: ${e.message}`);
        process.exit(1);
});
server.listen(port, "127.0.0.1", () => {
        process.stdout.write(`READY ${server.address().port}\n`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
