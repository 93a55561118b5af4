/**
 * The Generator interface pipelines use to sample completions. `NativeGenerator` runs on a loaded
 * Model; an OpenAI-compatible server (vLLM, SGLang, llama.cpp server) can implement the same interface.
 */
import type { Model } from './model.js';
import type { GenerateOptions, GenerateResult } from './types.js';

export interface Generator {
  /** a short description for logs and run metadata, e.g. "native cpu bf16 /models/qwen". */
  readonly description: string;
  /** eos ids used when a request names no stop tokens. */
  readonly defaultStopTokenIds: readonly number[];
  generate(prompts: number[][], options: GenerateOptions): Promise<GenerateResult>;
}

export class NativeGenerator implements Generator {
  private readonly model: Model;

  constructor(model: Model) {
    this.model = model;
  }

  get description(): string {
    return `native ${this.model.device} ${this.model.dtype} ${this.model.path}`;
  }

  get defaultStopTokenIds(): readonly number[] {
    return this.model.generation.eosTokenIds;
  }

  generate(prompts: number[][], options: GenerateOptions): Promise<GenerateResult> {
    return this.model.generate(prompts, options);
  }
}
