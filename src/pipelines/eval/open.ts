/** Opens the runner a backend names: our engine on the model (native), or lm_eval (hf, vllm). */
import { resolve } from 'node:path';
import { Trainer } from '../../engine/trainer.js';
import type { DTypeOption } from '../../engine/types.js';
import { openModel } from '../session.js';
import { createLmEvalRunner } from './lm-eval-bridge.js';
import { createNativeRunner } from './native-runner.js';
import type { EvalBackend, EvalRunner } from './types.js';

export interface OpenedRunner {
  runner: EvalRunner;
  close: () => void;
}

export async function openEvalRunner(options: { model: string; backend: EvalBackend; device?: string; dtype?: DTypeOption; onLog?: (line: string) => void }): Promise<OpenedRunner> {
  if (options.backend !== 'native') {
    return { runner: createLmEvalRunner({ backend: options.backend, model: options.model, ...(options.onLog === undefined ? {} : { onLog: options.onLog }) }), close: () => {} };
  }
  const session = await openModel(resolve(options.model), { device: options.device ?? 'cpu', dtype: options.dtype ?? 'auto' });
  // The engine reads live LoRA tensors: attaching an adapter is all it takes to evaluate it.
  const trainer = session.source.adapterDir === undefined ? undefined : Trainer.fromAdapter(session.model, session.source.adapterDir);
  return {
    runner: createNativeRunner({ model: session.model, tokenizer: session.tokenizer }),
    close: () => {
      trainer?.dispose();
      session.model.dispose();
    },
  };
}
