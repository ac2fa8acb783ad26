/* Checking an append-only log's proofs in the browser: the hub's pages (the owners' voting page,
 * the maintenance-fund page) check what the hub hands them here, against its signed tree heads,
 * so an owner need trust only the hub's public key, not the page's server.
 *
 *   leafHash(payload)                 SM3(0x00 ‖ UTF-8 payload), hex (RFC 9162 §2.1.1 with SM3)
 *   nodeHash(left, right)             SM3(0x01 ‖ left ‖ right), hex
 *   checkInclusion(leaf, index, size, path, root)          RFC 9162 §2.1.3.2
 *   checkConsistency(oldSize, newSize, oldRoot, newRoot, path)   RFC 9162 §2.1.4.2
 *   checkHead(head)                   the head's signed text names its log, size, root, time and
 *                                     kind (format hub-tree-head/1, graph.merkle.head_bytes), and
 *                                     its SM2 signature (signer ID 1234567812345678) holds
 *
 * Each check returns null when it holds, otherwise why not, in Chinese. SM2 and SM3 are the
 * vendored sm-crypto's globals `sm2` and `sm3` (hub/static/vendor/sm-crypto), loaded before this.
 * Exposed as `window.HubTree`.
 */
(function () {
  "use strict";

  const SIGNER_ID = "1234567812345678";
  const HEAD_FORMAT = "hub-tree-head/1";
  const HEX64 = /^[0-9a-f]{64}$/;

  function bytesOfHex(hex) {
    const bytes = [];
    for (let at = 0; at < hex.length; at += 2) bytes.push(parseInt(hex.slice(at, at + 2), 16));
    return bytes;
  }

  function utf8(text) {
    return Array.from(new TextEncoder().encode(text));
  }

  /** SM3(0x00 ‖ payload), hex: the leaf hash of a log entry (RFC 9162 §2.1.1 with SM3). */
  function leafHash(payload) {
    return sm3([0x00].concat(utf8(payload)));
  }

  /** SM3(0x01 ‖ left ‖ right), hex: an interior node. */
  function nodeHash(left, right) {
    return sm3([0x01].concat(bytesOfHex(left), bytesOfHex(right)));
  }

  function hashes(values) {
    return Array.isArray(values) && values.every((value) => typeof value === "string" && HEX64.test(value));
  }

  /** RFC 9162 §2.1.3.2: null when `path` leads from the leaf at `index` of a tree of `size`
   * leaves to `root`, otherwise why not. */
  function checkInclusion(leaf, index, size, path, root) {
    if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return `序号 ${index} 不在大小为 ${size} 的树内`;
    if (!hashes([leaf, root, ...path])) return "证明中有不是 64 位十六进制的哈希";
    let fn = BigInt(index);
    let sn = BigInt(size - 1);
    let r = leaf;
    for (const p of path) {
      if (sn === 0n) return "证明路径比树高更长";
      if ((fn & 1n) === 1n || fn === sn) {
        r = nodeHash(p, r);
        while (fn !== 0n && (fn & 1n) === 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) return "证明路径比树高更短";
    if (r !== root) return `沿路径算得的根 ${r.slice(0, 16)}… 与树头的根 ${root.slice(0, 16)}… 不符`;
    return null;
  }

  /** RFC 9162 §2.1.4.2: null when `path` shows the tree of `newSize` leaves with `newRoot`
   * extends the tree of `oldSize` leaves with `oldRoot`, otherwise why not. */
  function checkConsistency(oldSize, newSize, oldRoot, newRoot, path) {
    if (!Number.isInteger(oldSize) || !Number.isInteger(newSize) || oldSize < 1 || oldSize > newSize) return `回执树头大小 ${oldSize} 不在 1 与终态大小 ${newSize} 之间`;
    if (!hashes([oldRoot, newRoot, ...path])) return "证明中有不是 64 位十六进制的哈希";
    if (oldSize === newSize) {
      if (path.length) return "两树同样大小，证明却不为空";
      return oldRoot === newRoot ? null : "两树同样大小，根却不同";
    }
    if (!path.length) return "证明为空"; // 1.
    const proof = path.slice();
    if ((BigInt(oldSize) & BigInt(oldSize - 1)) === 0n) proof.unshift(oldRoot); // 2. a power of two
    let fn = BigInt(oldSize - 1); // 3.
    let sn = BigInt(newSize - 1);
    while ((fn & 1n) === 1n) { // 4.
      fn >>= 1n;
      sn >>= 1n;
    }
    let fr = proof[0]; // 5.
    let sr = proof[0];
    for (const c of proof.slice(1)) { // 6.
      if (sn === 0n) return "证明路径比树高更长";
      if ((fn & 1n) === 1n || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        while (fn !== 0n && (fn & 1n) === 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) return "证明路径比树高更短"; // 7.
    if (fr !== oldRoot) return "由证明算得的旧根与回执树头的根不符";
    if (sr !== newRoot) return "由证明算得的新根与树头的根不符";
    return null;
  }

  /** Null when the head's signed text names its own log, size, root, time and kind and its SM2
   * signature over that text holds under its public key; otherwise why not. */
  function checkHead(head) {
    if (!head || typeof head.signedText !== "string") return "树头缺少签名文本";
    const lines = head.signedText.split("\n");
    const expected = [HEAD_FORMAT, `log ${head.log}`, `size ${head.size}`, `root ${head.root}`];
    if (lines.length !== 7 || lines[6] !== "") return "签名文本不是六行";
    for (let at = 0; at < expected.length; at += 1) {
      if (lines[at] !== expected[at]) return `签名文本第 ${at + 1} 行是「${lines[at]}」，应为「${expected[at]}」`;
    }
    if (!lines[4].startsWith("at ")) return "签名文本缺少时间";
    const signedAt = Date.parse(lines[4].slice(3));
    if (Number.isNaN(signedAt) || signedAt !== Date.parse(head.at)) return `签名文本的时间「${lines[4].slice(3)}」与树头的时间不符`;
    if (lines[5] !== `kind ${head.kind}`) return `签名文本的种类「${lines[5]}」与树头不符`;
    if (!/^[0-9a-f]{128}$/.test(head.publicKey || "")) return "公钥不是 128 位十六进制";
    if (!/^[0-9a-f]{128}$/.test(head.signature || "")) return "签名不是 128 位十六进制";
    let valid = false;
    try {
      valid = sm2.doVerifySignature(head.signedText, head.signature, `04${head.publicKey}`, { hash: true, userId: SIGNER_ID });
    } catch (error) {
      return `验签出错：${error.message}`;
    }
    return valid ? null : "SM2 签名验证失败";
  }

  window.HubTree = Object.freeze({ SIGNER_ID, HEAD_FORMAT, leafHash, nodeHash, checkInclusion, checkConsistency, checkHead });
})();
