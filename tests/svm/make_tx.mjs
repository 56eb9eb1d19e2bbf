// Builds a signed legacy system transfer, as a wallet would, for tests of
// sendTransaction: prints the wire transaction in base64 and its signature.
// usage: node tests/svm/make_tx.mjs SECRET_B58 TO LAMPORTS BLOCKHASH
//        -> "<base64 transaction> <signature>"
import { peersRequire } from "./fixtures.mjs";

const kit = peersRequire("@solana/kit");
const { getTransferSolInstruction } = peersRequire("@solana-program/system");

const [secret, to, lamports, blockhash] = process.argv.slice(2);
if (!blockhash) {
        console.error("usage: make_tx.mjs SECRET_B58 TO LAMPORTS BLOCKHASH");
        process.exit(2);
}
const payer = await kit.createKeyPairSignerFromBytes(kit.getBase58Encoder().encode(secret));
const tx = await kit.signTransactionMessageWithSigners(kit.pipe(
        kit.createTransactionMessage({ version: "legacy" }),
        (m) => kit.setTransactionMessageFeePayerSigner(payer, m),
        (m) => kit.setTransactionMessageLifetimeUsingBlockhash({ blockhash, lastValidBlockHeight: 0n }, m),
        (m) => kit.appendTransactionMessageInstruction(
                getTransferSolInstruction({ source: payer, destination: kit.address(to), amount: BigInt(lamports) }), m),
));
console.log(`${kit.getBase64EncodedWireTransaction(tx)} ${kit.getSignatureFromTransaction(tx)}`);
