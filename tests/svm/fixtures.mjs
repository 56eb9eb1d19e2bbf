// Helpers of the local SVM endpoint (rpc_server.mjs): where the npm packages
// are, and SPL Token accounts written by hand (the token program's own layouts:
// a mint is 82 bytes, a token account 165), for getTokenAccountsByOwner.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const PEERS_ROOT = process.env.OSVM_PEERS_ROOT || join(here, "../peers/node_modules_root");
// require() from the test peers' node_modules (ESM imports cannot be pointed there).
export const peersRequire = createRequire(join(PEERS_ROOT, "package.json"));

const kit = peersRequire("@solana/kit");
const b58 = kit.getBase58Decoder();
const key = (a) => kit.getAddressEncoder().encode(a);

export const TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";

// COption<Pubkey>: a u32 tag, then 32 bytes.
function someKey(buf, off, a) {
        buf.writeUInt32LE(1, off);
        buf.set(key(a), off + 4);
}

// An initialized mint with `authority` as its mint authority and no freeze authority.
export function tokenMint(address, supply, decimals, authority, lamports) {
        const d = Buffer.alloc(82);
        someKey(d, 0, authority);
        d.writeBigUInt64LE(supply, 36);
        d.writeUInt8(decimals, 44);
        d.writeUInt8(1, 45); // is_initialized
        return encoded(address, d, lamports);
}

// An initialized, non-native token account without delegate or close authority.
export function tokenAccount(address, mint, owner, amount, lamports) {
        const d = Buffer.alloc(165);
        d.set(key(mint), 0);
        d.set(key(owner), 32);
        d.writeBigUInt64LE(amount, 64);
        d.writeUInt8(1, 108); // state: initialized
        return encoded(address, d, lamports);
}

function encoded(address, data, lamports) {
        return { address, data: new Uint8Array(data), executable: false, lamports, programAddress: TOKEN_PROGRAM, space: BigInt(data.length) };
}

// jsonParsed for a token account (the decimals come from its mint); null for
// anything else, which then falls back to base64.
export function parseTokenAccount(data, svm) {
        if (data.length !== 165) return null;
        const d = Buffer.from(data);
        const mint = b58.decode(d.subarray(0, 32));
        const m = svm.getAccount(mint);
        if (!m.exists || m.data.length !== 82) return null;
        const decimals = m.data[44];
        const amount = d.readBigUInt64LE(64);
        const state = ["uninitialized", "initialized", "frozen"][d[108]] ?? "uninitialized";
        const ui = uiAmount(amount, decimals);
        return {
                parsed: {
                        info: {
                                isNative: d.readUInt32LE(109) === 1,
                                mint,
                                owner: b58.decode(d.subarray(32, 64)),
                                state,
                                tokenAmount: { amount: amount.toString(), decimals, uiAmount: Number(ui), uiAmountString: ui },
                        },
                        type: "account",
                },
                program: "spl-token",
                space: 165,
        };
}

function uiAmount(amount, decimals) {
        const s = amount.toString().padStart(decimals + 1, "0");
        const whole = s.slice(0, s.length - decimals);
        const frac = s.slice(s.length - decimals).replace(/0+$/, "");
        return frac ? `${whole}.${frac}` : whole;
}
