/**
 * proof:train — every acceptance figure of the training issue, measured now, as one JSON line:
 * float64 gradient checks, merged-vs-live logits, overfit loss, packed-vs-padded loss, bitwise resume,
 * chunked-loss peak memory, and llama.cpp applying our GGUF LoRA adapter. `ok` says whether each
 * meets its bound. The speed figure is `npm run -s bench:train` (minutes on its own).
 */
import { rmSync } from 'node:fs';
import { gradientCheck, ggufLoraPeer, memory, merge, overfit, packing, resume } from '../test/train/scenarios.js';
import { tempDir } from '../test/train/helpers.js';
import { formatError } from '../src/util/errors.js';

async function main(): Promise<number> {
  const work = tempDir('proof');
  try {
    const grads = [
      await gradientCheck(work, 'lora', { rank: 4, alpha: 8, lossChunkTokens: 5, checkpointing: true }, true),
      await gradientCheck(work, 'lora-plain', { rank: 3, alpha: 6, useRslora: true, checkpointing: false, targets: ['q_proj', 'v_proj', 'down_proj'] }, false),
      await gradientCheck(work, 'full', { mode: 'full', lossChunkTokens: 4 }, true),
    ];
    const merged = await merge(work);
    const fit = await overfit(work);
    const packed = await packing(work);
    const resumed = resume(work);
    const mem = memory(work);
    const peers = { llama: await ggufLoraPeer(work, 'llama'), qwen2: await ggufLoraPeer(work, 'qwen2') };
    const figures = {
      gradcheck_max_rel_error: Object.fromEntries(grads.map((g) => [g.label, g.maxRelError])),
      merge_max_abs_diff: merged.maxAbsDiff,
      overfit_final_loss: fit.lastLoss,
      packing_loss_diff: packed.diff,
      resume_identical_adapter_bytes: resumed.adapterIdentical && resumed.stateIdentical,
      memory_peak_mib: { chunked: Math.round(mem.chunked.aboveKb / 1024), unchunked: Math.round(mem.unchunked.aboveKb / 1024), ratio: Number(mem.ratio.toFixed(4)) },
      gguf_lora_peer_max_rel_diff: { llama: peers.llama.maxRelativeDiff, qwen2: peers.qwen2.maxRelativeDiff },
    };
    const ok = {
      gradcheck: grads.every((g) => g.maxRelError <= 1e-4),
      merge: merged.maxAbsDiff <= 1e-5,
      overfit: fit.lastLoss < 0.05,
      packing: packed.diff <= 1e-5,
      resume: figures.resume_identical_adapter_bytes,
      memory: mem.ratio <= 0.4,
      peer: Object.values(peers).every((p) => p.maxRelativeDiff <= 1e-3 && p.argmaxAgree === p.positions),
    };
    process.stdout.write(`${JSON.stringify({ proof: 'train', ...figures, ok })}\n`);
    return Object.values(ok).every(Boolean) ? 0 : 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`${formatError(error)}\n`);
    process.exitCode = 1;
  },
);
